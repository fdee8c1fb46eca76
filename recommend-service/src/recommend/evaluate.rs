//! Offline evaluation of strategies on a train/test split.
//!
//! - RMSE and MAE of the predicted rating over every test rating (a user or item unseen
//!   in training gets the baseline).
//! - precision@10 and recall@10: for each user with at least one relevant test item
//!   (test rating ≥ 4), the top 10 among the items they did not rate in training (ties to
//!   the lowest item id); precision = hits / 10, recall = hits / relevant, averaged over
//!   those users.
//! - fit time, and the time to produce the top 10 for every training user.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde::Serialize;

use super::matrix::{Matrix, Rating};
use super::model::{Model, Profile, Strategy};
use super::rng::Rng;

pub const TOP_N: usize = 10;
pub const RELEVANT: f32 = 4.0;

/// The figures of one strategy; `None` where a figure does not apply.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub rmse: Option<f64>,
    pub mae: Option<f64>,
    pub precision_at_10: Option<f64>,
    pub recall_at_10: Option<f64>,
    pub fit_seconds: f64,
    pub topn_seconds: f64,
    /// What the fit chose on the training data's held-out slice: rp3's β and mix's EASE
    /// share (`None` for the other strategies), to the hundredth (both grids' step).
    pub beta: Option<f64>,
    pub mix_share: Option<f64>,
}

/// Splits `ratings` at random: `train_fraction` of them train, the rest test.
pub fn split(ratings: &[Rating], train_fraction: f64, seed: u64) -> (Vec<Rating>, Vec<Rating>) {
    let mut shuffled = ratings.to_vec();
    Rng::new(seed).shuffle(&mut shuffled);
    let cut = ((shuffled.len() as f64) * train_fraction.clamp(0.0, 1.0)).round() as usize;
    let test = shuffled.split_off(cut);
    (shuffled, test)
}

pub fn evaluate(strategy: Strategy, train: &[Rating], test: &[Rating]) -> Figures {
    let started = Instant::now();
    let model = Model::fit(train, strategy);
    let fit_seconds = started.elapsed().as_secs_f64();

    let (rmse, mae) = errors(&model, test).unzip();

    let started = Instant::now();
    let lists = all_top_n(&model);
    let topn_seconds = started.elapsed().as_secs_f64();

    let (precision, recall) = precision_and_recall(&model, &lists, test);
    Figures {
        rmse,
        mae,
        precision_at_10: precision,
        recall_at_10: recall,
        fit_seconds,
        topn_seconds,
        beta: (strategy == Strategy::Rp3).then(|| hundredths(model.learned.beta)),
        mix_share: (strategy == Strategy::Mix).then(|| hundredths(model.learned.mix)),
    }
}

fn hundredths(value: f32) -> f64 {
    (f64::from(value) * 100.0).round() / 100.0
}

/// RMSE and MAE of `model`'s predictions on `test` (`None` when it does not predict or
/// there is nothing to predict).
fn errors(model: &Model, test: &[Rating]) -> Option<(f64, f64)> {
    if !model.strategy.predicts() || test.is_empty() {
        return None;
    }
    let (mut se, mut ae) = (0.0f64, 0.0f64);
    for r in test {
        let predicted = model.predict(r.user, r.item).unwrap_or(3.0) as f64;
        let error = predicted - r.value as f64;
        se += error * error;
        ae += error.abs();
    }
    let n = test.len() as f64;
    Some(((se / n).sqrt(), ae / n))
}

/// RMSE of `model`'s predictions on `test`.
pub fn rmse(model: &Model, test: &[Rating]) -> Option<f64> {
    errors(model, test).map(|(rmse, _)| rmse)
}

/// precision@10 of `model`'s lists against `test` (`None` when no user has a relevant
/// test item).
pub fn ranking_precision(model: &Model, test: &[Rating]) -> Option<f64> {
    // Lists only for the users the test can score: `auto` scores a sample of users.
    let m = &model.matrix;
    let mut lists = vec![Vec::new(); m.users()];
    let mut profile = Vec::new();
    for r in test.iter().filter(|r| r.value >= RELEVANT) {
        if let Some(u) = m.user(r.user)
            && lists[u as usize].is_empty()
        {
            lists[u as usize] = top_n_of(model, u as usize, &mut profile);
        }
    }
    precision_and_recall(model, &lists, test).0
}

/// precision@10 on `test` of `variants` versions of one ranking, for the users of
/// `matrix` with a relevant test item (as [`ranking_precision`]): `prepare` computes what
/// a user's versions share once, and `score` fills version k's scores from it (NaN: not
/// ranked). A model's parameter is learned this way on the held-out slice without
/// scoring every user once per value tried. `None` when no user has a relevant item.
pub fn variant_precision<S>(
    matrix: &Matrix,
    test: &[Rating],
    variants: usize,
    mut prepare: impl FnMut(Profile<'_>) -> S,
    mut score: impl FnMut(&S, usize, &mut [f32]),
) -> Option<Vec<f64>> {
    let mut relevant: HashMap<i64, HashSet<u32>> = HashMap::new();
    for r in test.iter().filter(|r| r.value >= RELEVANT) {
        // An item unknown to the model can be relevant but never listed.
        let item = matrix.item(r.item).unwrap_or(u32::MAX);
        relevant.entry(r.user).or_default().insert(item);
    }
    let mut hits = vec![0usize; variants];
    let (mut profile, mut scores) = (Vec::new(), vec![f32::NAN; matrix.items()]);
    let mut top: Vec<(u32, f32)> = Vec::with_capacity(TOP_N + 1);
    for (user, wanted) in &relevant {
        let Some(u) = matrix.user(*user) else {
            continue;
        };
        let (items, values) = matrix.by_user.row(u as usize);
        profile.clear();
        profile.extend(items.iter().copied().zip(values.iter().copied()));
        let shared = prepare(Profile {
            user: Some(u),
            items: &profile,
        });
        for (k, hits) in hits.iter_mut().enumerate() {
            scores.fill(f32::NAN);
            score(&shared, k, &mut scores);
            for &i in items {
                scores[i as usize] = f32::NAN;
            }
            // The best 10 in one pass (as `similarity::top_k`: ties to the lower index,
            // which comes first): this runs once per user and version tried.
            top.clear();
            for (i, &s) in scores.iter().enumerate() {
                if s.is_nan() || (top.len() == TOP_N && s <= top[TOP_N - 1].1) {
                    continue;
                }
                let at = top.partition_point(|&(_, t)| t >= s);
                top.insert(at, (i as u32, s));
                top.truncate(TOP_N);
            }
            *hits += top.iter().filter(|(i, _)| wanted.contains(i)).count();
        }
    }
    let users = relevant.len();
    (users > 0).then(|| {
        hits.iter()
            .map(|h| *h as f64 / (TOP_N * users) as f64)
            .collect()
    })
}

/// Mean precision@10 and recall@10 over the users with a relevant test item.
fn precision_and_recall(
    model: &Model,
    lists: &[Vec<i64>],
    test: &[Rating],
) -> (Option<f64>, Option<f64>) {
    let mut relevant: HashMap<i64, HashSet<i64>> = HashMap::new();
    for r in test.iter().filter(|r| r.value >= RELEVANT) {
        relevant.entry(r.user).or_default().insert(r.item);
    }
    let (mut precision, mut recall, mut users) = (0.0f64, 0.0f64, 0usize);
    for (user, wanted) in &relevant {
        let hits = model
            .matrix
            .user(*user)
            .map(|u| {
                lists[u as usize]
                    .iter()
                    .filter(|item| wanted.contains(item))
                    .count()
            })
            .unwrap_or(0);
        precision += hits as f64 / TOP_N as f64;
        recall += hits as f64 / wanted.len() as f64;
        users += 1;
    }
    let average = |sum: f64| (users > 0).then(|| sum / users as f64);
    (average(precision), average(recall))
}

/// The top-10 item ids of every user of the model, by user index.
pub fn all_top_n(model: &Model) -> Vec<Vec<i64>> {
    let mut profile = Vec::new();
    (0..model.matrix.users())
        .map(|u| top_n_of(model, u, &mut profile))
        .collect()
}

/// The top-10 item ids of user index `u` (`profile` is scratch space).
fn top_n_of(model: &Model, u: usize, profile: &mut Vec<(u32, f32)>) -> Vec<i64> {
    let m = &model.matrix;
    let (items, values) = m.by_user.row(u);
    profile.clear();
    profile.extend(items.iter().copied().zip(values.iter().copied()));
    model
        .top_n(
            Profile {
                user: Some(u as u32),
                items: profile,
            },
            TOP_N,
            |_| false,
        )
        .into_iter()
        .map(|s| m.item_ids[s.item as usize])
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::recommend::generate::{Generated, Spec, generate};
    use crate::recommend::model::Direction;
    use crate::recommend::similarity::Similarity;

    /// 300 users, 400 items, 20,000 generated ratings.
    pub(crate) fn data() -> Vec<Rating> {
        generate(Spec {
            users: 300,
            items: 400,
            ratings: 20_000,
            seed: 3,
        })
        .iter()
        .map(Generated::rating)
        .collect()
    }

    #[test]
    fn a_split_keeps_every_rating_once() {
        let ratings = data();
        let (train, test) = split(&ratings, 0.8, 9);
        assert_eq!(train.len() + test.len(), ratings.len());
        assert_eq!(train.len(), (ratings.len() as f64 * 0.8).round() as usize);
        assert_eq!(split(&ratings, 0.8, 9).0, train, "deterministic for a seed");
    }

    #[test]
    fn item_based_ranking_beats_popularity_and_baselines_beat_the_mean() {
        let ratings = data();
        let (train, test) = split(&ratings, 0.8, 1);
        let popular = evaluate(Strategy::Popular, &train, &test);
        let item = evaluate(
            Strategy::Knn {
                direction: Direction::Item,
                similarity: Similarity::Cosine,
            },
            &train,
            &test,
        );
        let baseline = evaluate(Strategy::Baseline, &train, &test);
        assert_eq!(popular.rmse, None);
        let (p_pop, p_item) = (
            popular.precision_at_10.unwrap(),
            item.precision_at_10.unwrap(),
        );
        assert!(p_item > p_pop, "item {p_item} vs popular {p_pop}");
        let ease = evaluate(Strategy::Ease, &train, &test);
        assert_eq!(ease.rmse, None, "EASE ranks, it does not predict");
        let p_ease = ease.precision_at_10.unwrap();
        assert!(p_ease > p_item, "EASE {p_ease} vs item {p_item}");
        let mean = train.iter().map(|r| r.value as f64).sum::<f64>() / train.len() as f64;
        let mean_rmse = (test
            .iter()
            .map(|r| (r.value as f64 - mean).powi(2))
            .sum::<f64>()
            / test.len() as f64)
            .sqrt();
        assert!(baseline.rmse.unwrap() < mean_rmse);
    }

    #[test]
    fn precision_of_variants_is_each_variants_ranking_precision() {
        let ratings = data();
        let (train, test) = split(&ratings, 0.8, 1);
        let (ease, user) = (
            Model::fit(&train, Strategy::Ease),
            Model::fit(
                &train,
                Strategy::Knn {
                    direction: Direction::User,
                    similarity: Similarity::Cosine,
                },
            ),
        );
        // Both models index the same training data alike; variant 0 is EASE, 1 user-cosine.
        let precision = variant_precision(
            &ease.matrix,
            &test,
            2,
            |profile| (profile.user, profile.items.to_vec()),
            |(who, items), k, score| {
                let profile = Profile { user: *who, items };
                [&ease, &user][k].scores(profile, score)
            },
        )
        .unwrap();
        let expected = [&ease, &user].map(|m| ranking_precision(m, &test).unwrap());
        for (got, expected) in precision.iter().zip(expected) {
            assert!(
                (got - expected).abs() < 1e-12,
                "{precision:?} vs {expected}"
            );
        }
        assert!(precision[0] != precision[1], "two different rankings");
        let nothing_relevant: Vec<Rating> =
            test.iter().filter(|r| r.value < 4.0).copied().collect();
        assert_eq!(
            variant_precision(&ease.matrix, &nothing_relevant, 1, |_| (), |_, _, _| {}),
            None
        );
    }

    #[test]
    fn the_figures_say_what_rp3_and_mix_chose_on_the_held_out_slice() {
        let ratings = data();
        let (train, test) = split(&ratings, 0.8, 1);
        let rp3 = evaluate(Strategy::Rp3, &train, &test);
        let (beta, _) = crate::recommend::rp3::learn(&train).unwrap();
        assert_eq!(rp3.beta, Some(hundredths(beta)));
        assert_eq!(rp3.mix_share, None);
        let mix = evaluate(Strategy::Mix, &train, &test);
        let share = mix.mix_share.unwrap();
        assert!(
            crate::recommend::model::MIX_SHARES
                .iter()
                .any(|s| hundredths(*s) == share),
            "{share}"
        );
        assert_eq!(
            (mix.beta, evaluate(Strategy::Popular, &train, &test).beta),
            (None, None)
        );
    }

    #[test]
    fn blending_mf_with_user_neighbours_predicts_better_than_either() {
        let ratings = data();
        let (train, test) = split(&ratings, 0.8, 1);
        let rmse = |strategy| evaluate(strategy, &train, &test).rmse.unwrap();
        let user = rmse(Strategy::Knn {
            direction: Direction::User,
            similarity: Similarity::Cosine,
        });
        let (mf, blend) = (rmse(Strategy::Factors), rmse(Strategy::Blend));
        assert!(blend < user.min(mf), "blend {blend}, user {user}, mf {mf}");
    }
}
