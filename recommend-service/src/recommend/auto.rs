//! `auto`: the ranking and the prediction strategy chosen per fit, by evidence from the
//! training data alone.
//!
//! The most recent [`HOLD_OUT`] of each user's training interactions (for users with at
//! least [`MIN_INTERACTIONS`]) is set aside; every candidate is fitted once on the rest and
//! scored on what was set aside: precision@10 for lists (ratings ≥ 4 relevant, as in
//! `eval`), RMSE for predicted ratings. The best of each wins and is then fitted on
//! everything. Test data is never looked at.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use super::evaluate::{self, ranking_precision, rmse};
use super::matrix::Rating;
use super::model::{Direction, Model, Strategy};
use super::rng::Rng;
use super::rp3;
use super::similarity::Similarity;

/// The share of each user's interactions held out, the most recent ones.
pub const HOLD_OUT: f64 = 0.2;
/// Users with fewer interactions keep all of them for fitting.
pub const MIN_INTERACTIONS: usize = 5;
/// The most users whose held-out interactions the service's `auto` scores: precision@10
/// over 1,000 users is within about ±0.005, and EASE's lists for them take under 2 s at
/// the 1M shape (all 6,040: 10 s).
pub const SAMPLE_USERS: usize = 1_000;

/// The strategies `auto` chooses among (lists: all of them; predictions: those that
/// predict).
pub fn candidates() -> [Strategy; 7] {
    [
        Strategy::Knn {
            direction: Direction::Item,
            similarity: Similarity::Cosine,
        },
        Strategy::Knn {
            direction: Direction::User,
            similarity: Similarity::Cosine,
        },
        Strategy::Ease,
        Strategy::Factors,
        Strategy::Blend,
        Strategy::Mix,
        Strategy::Rp3,
    ]
}

/// What `auto` found on the held-out slice: every candidate's precision@10, best first,
/// and every predicting candidate's RMSE, best (lowest) first.
#[derive(Debug, Clone)]
pub struct Choice {
    pub ranked: Vec<(Strategy, f64)>,
    pub predicted: Vec<(Strategy, f64)>,
    /// Users with a relevant held-out interaction, whom the precision@10 figures average
    /// over (0: no evidence, every score 0 and the first candidate wins).
    pub users: usize,
    /// The β RP3beta was scored with, when it was a candidate.
    pub beta: Option<f32>,
}

impl Choice {
    /// The strategy that ranks.
    pub fn winner(&self) -> Strategy {
        self.ranked[0].0
    }

    /// By how much the winner beat the runner-up (precision@10 points).
    pub fn margin(&self) -> f64 {
        // A tie to 10⁻⁹ may have left the winner 10⁻¹⁶ behind: no margin.
        margin(&self.ranked).max(0.0)
    }

    /// The strategy that predicts ratings.
    pub fn predictor(&self) -> Strategy {
        self.predicted[0].0
    }

    /// By how much the predictor beat the runner-up (RMSE, positive).
    pub fn predictor_margin(&self) -> f64 {
        (-margin(&self.predicted)).max(0.0)
    }
}

fn margin(scores: &[(Strategy, f64)]) -> f64 {
    match scores {
        [(_, best), (_, second), ..] => best - second,
        _ => 0.0,
    }
}

/// Chooses among [`candidates`]; `train` must be in time order, oldest first.
pub fn choose(train: &[Rating]) -> Choice {
    let (fit, held_out) = hold_out_recent(train, None);
    let (mut ranked, mut predicted, mut beta) = (Vec::new(), Vec::new(), None);
    for strategy in candidates() {
        let model = Model::fit(&fit, strategy);
        if strategy == Strategy::Rp3 {
            beta = Some(model.learned.beta);
        }
        ranked.push((
            strategy,
            ranking_precision(&model, &held_out).unwrap_or(0.0),
        ));
        if let Some(error) = rmse(&model, &held_out) {
            predicted.push((strategy, error));
        }
    }
    sort(&mut ranked, &mut predicted);
    Choice {
        ranked,
        predicted,
        users: relevant_users(&held_out),
        beta,
    }
}

/// The service's choice of what ranks lists: only `candidates` (what it can serve), only
/// lists, and only the held-out interactions of at most `users` users, so a choice at
/// the 1M shape costs a few fits rather than [`choose`]'s seven (most of the 110 s of
/// `eval --strategy auto` there); a user-based candidate finds neighbours for those
/// users alone ([`Model::fit_to_rank`]).
/// RP3beta learns its β on this same slice, from one walk on the rest
/// ([`rp3::learn_on`]), and is scored with the best β tried, which the choice keeps.
/// Users are picked by a hash of their id: the same users from one choice to the next
/// while they stay eligible.
pub fn choose_lists(train: &[Rating], candidates: &[Strategy], users: usize) -> Choice {
    let (fit, held_out) = hold_out_recent(train, Some(users));
    let scored: HashSet<i64> = held_out.iter().map(|r| r.user).collect();
    let mut beta = None;
    let mut ranked: Vec<(Strategy, f64)> = candidates
        .iter()
        .map(|&strategy| {
            let started = Instant::now();
            if strategy == Strategy::Rp3 {
                let learned = rp3::learn_on(&fit, &held_out);
                beta = Some(learned.map_or(rp3::BETA, |(beta, _)| beta));
                tracing::debug!(
                    strategy = "rp3",
                    seconds = started.elapsed().as_secs_f64(),
                    "auto scored a candidate (walk and β search)"
                );
                return (strategy, learned.map_or(0.0, |(_, precision)| precision));
            }
            let model = Model::fit_to_rank(&fit, strategy, &scored);
            let fitted = started.elapsed();
            let precision = ranking_precision(&model, &held_out).unwrap_or(0.0);
            tracing::debug!(
                strategy = %strategy.name(),
                fit_seconds = fitted.as_secs_f64(),
                score_seconds = (started.elapsed() - fitted).as_secs_f64(),
                "auto scored a candidate"
            );
            (strategy, precision)
        })
        .collect();
    sort(&mut ranked, &mut Vec::new());
    Choice {
        ranked,
        predicted: Vec::new(),
        users: relevant_users(&held_out),
        beta,
    }
}

fn sort(ranked: &mut [(Strategy, f64)], predicted: &mut [(Strategy, f64)]) {
    // Stable: on a tie the earlier candidate (the cheaper fit) stays first. Scores are
    // compared to 10⁻⁹: blend ranks as user-cosine, and summing the same hits in another
    // order must not make it win by 10⁻¹⁶.
    let key = |score: f64| (score * 1e9).round();
    ranked.sort_by(|a, b| key(b.1).total_cmp(&key(a.1)));
    predicted.sort_by(|a, b| key(a.1).total_cmp(&key(b.1)));
}

fn relevant_users(held_out: &[Rating]) -> usize {
    let users: HashSet<i64> = held_out
        .iter()
        .filter(|r| r.value >= evaluate::RELEVANT)
        .map(|r| r.user)
        .collect();
    users.len()
}

/// Splits `train` (oldest first) into what candidates fit on and each user's most recent
/// interactions; with `sample`, only that many eligible users hold any out.
pub fn hold_out_recent(train: &[Rating], sample: Option<usize>) -> (Vec<Rating>, Vec<Rating>) {
    let mut total: HashMap<i64, usize> = HashMap::new();
    for r in train {
        *total.entry(r.user).or_default() += 1;
    }
    let mut eligible: Vec<i64> = total
        .iter()
        .filter(|(_, count)| **count >= MIN_INTERACTIONS)
        .map(|(user, _)| *user)
        .collect();
    if let Some(sample) = sample {
        eligible.sort_unstable_by_key(|user| (Rng::new(*user as u64).next_u64(), *user));
        eligible.truncate(sample);
    }
    let eligible: HashSet<i64> = eligible.into_iter().collect();
    let mut seen: HashMap<i64, usize> = HashMap::new();
    let (mut fit, mut held_out) = (Vec::new(), Vec::new());
    for r in train {
        let count = total[&r.user];
        let position = seen.entry(r.user).or_default();
        *position += 1;
        let held = if eligible.contains(&r.user) {
            ((count as f64) * HOLD_OUT).round().max(1.0) as usize
        } else {
            0
        };
        if *position > count - held {
            held_out.push(*r);
        } else {
            fit.push(*r);
        }
    }
    (fit, held_out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::generate::{Generated, Spec, blockbusters, bundles, generate, twins};
    use crate::recommend::matrix::Matrix;
    use crate::recommend::model::Learned;

    #[test]
    fn lists_and_predictions_are_chosen_apart_each_by_its_own_score() {
        let train: Vec<Rating> = generate(Spec {
            users: 200,
            items: 150,
            ratings: 8_000,
            seed: 5,
        })
        .iter()
        .map(Generated::rating)
        .collect();
        let choice = choose(&train);
        assert_eq!(choice.ranked.len(), candidates().len());
        let predictors: Vec<Strategy> = choice.predicted.iter().map(|(s, _)| *s).collect();
        for lists_only in [Strategy::Ease, Strategy::Mix, Strategy::Rp3] {
            assert!(!predictors.contains(&lists_only), "{}", lists_only.name());
        }
        assert_eq!(predictors.len(), candidates().len() - 3);
        // Ordered to 10⁻⁹ (see `sort`): equal scores summed in another order may not be.
        assert!(choice.ranked.windows(2).all(|w| w[0].1 >= w[1].1 - 1e-9));
        assert!(choice.predicted.windows(2).all(|w| w[0].1 <= w[1].1 + 1e-9));
        assert!(choice.margin() >= 0.0 && choice.predictor_margin() >= 0.0);
        let rmse = choice.predicted[0].1;
        assert!((0.5..1.5).contains(&rmse), "held-out RMSE {rmse}");
    }

    #[test]
    fn scores_equal_but_for_rounding_keep_the_earlier_cheaper_candidate_first() {
        let (user, blend) = (candidates()[1], Strategy::Blend);
        let mut ranked = vec![
            (user, 0.208_880_053_015_242_3),
            (blend, 0.208_880_053_015_243_3),
        ];
        let mut predicted = vec![(user, 0.86), (blend, 0.8)];
        sort(&mut ranked, &mut predicted);
        assert_eq!(ranked[0].0, user, "a difference of 10⁻¹⁶ is a tie");
        assert_eq!(predicted[0].0, blend);
        let mut ranked = vec![(user, 0.2088), (blend, 0.2089)];
        sort(&mut ranked, &mut Vec::new());
        assert_eq!(ranked[0].0, blend, "a real difference still counts");
    }

    #[test]
    fn each_users_most_recent_fifth_is_held_out_and_small_profiles_are_kept() {
        let mut train = Vec::new();
        for t in 0..10 {
            train.push(Rating {
                user: 1,
                item: t,
                value: 4.0,
            });
        }
        for t in 0..3 {
            train.push(Rating {
                user: 2,
                item: t,
                value: 4.0,
            });
        }
        let (fit, held_out) = hold_out_recent(&train, None);
        let held: Vec<(i64, i64)> = held_out.iter().map(|r| (r.user, r.item)).collect();
        assert_eq!(held, vec![(1, 8), (1, 9)]);
        assert_eq!(fit.len(), 11);
    }

    fn ratings(generated: Vec<Generated>) -> Vec<Rating> {
        generated.iter().map(Generated::rating).collect()
    }

    fn served() -> Vec<Strategy> {
        vec![
            candidates()[0],
            candidates()[1],
            Strategy::Ease,
            Strategy::Rp3,
        ]
    }

    #[test]
    fn the_served_choice_follows_the_data_user_cosine_for_twins_ease_for_bundles_rp3_for_blockbusters()
     {
        let chosen = |data: Vec<Generated>| choose_lists(&ratings(data), &served(), SAMPLE_USERS);
        let twins = chosen(twins());
        assert_eq!(twins.winner().name(), "user-cosine", "{:?}", twins.ranked);
        assert!(twins.margin() > 0.05, "{:?}", twins.ranked);
        let bundles = chosen(bundles());
        assert_eq!(bundles.winner(), Strategy::Ease, "{:?}", bundles.ranked);
        assert!(bundles.margin() > 0.03, "{:?}", bundles.ranked);
        let blockbusters = chosen(blockbusters());
        assert_eq!(
            blockbusters.winner(),
            Strategy::Rp3,
            "{:?}",
            blockbusters.ranked
        );
        assert!(blockbusters.margin() > 0.05, "{:?}", blockbusters.ranked);
        // The casual raters (4 trips) and the heavy ones of `twins` hold nothing relevant
        // out: only the 120 twins or bundle travellers count.
        for choice in [&twins, &bundles, &blockbusters] {
            assert_eq!(choice.users, 120);
            assert_eq!(choice.ranked.len(), served().len());
        }
        assert!(twins.predicted.is_empty(), "lists only");
    }

    #[test]
    fn rp3_is_scored_on_the_choices_slice_with_the_beta_it_learned_there() {
        let data = ratings(blockbusters());
        let choice = choose_lists(&data, &served(), SAMPLE_USERS);
        let beta = choice.beta.expect("rp3 was a candidate");
        // The popularity penalty is what wins here: a real one, not none.
        assert!(beta > 0.5, "{beta}");
        let (fit, held_out) = hold_out_recent(&data, Some(SAMPLE_USERS));
        let learned = Learned {
            beta,
            ..Learned::DEFAULT
        };
        let model = Model::fit_learned(Matrix::new(&fit), Strategy::Rp3, learned);
        let precision = ranking_precision(&model, &held_out).unwrap();
        let reported = choice.ranked.iter().find(|(s, _)| *s == Strategy::Rp3);
        assert!(
            (reported.unwrap().1 - precision).abs() < 1e-9,
            "{reported:?} vs {precision}"
        );
        let without = choose_lists(&data, &served()[..3], SAMPLE_USERS);
        assert_eq!(without.beta, None);
    }

    #[test]
    fn a_sample_holds_out_only_so_many_users_the_same_ones_each_time() {
        let data = ratings(bundles());
        let (fit, held_out) = hold_out_recent(&data, Some(10));
        let users: HashSet<i64> = held_out.iter().map(|r| r.user).collect();
        assert_eq!(users.len(), 10);
        assert_eq!(fit.len() + held_out.len(), data.len());
        // 24 trips each: the 5 most recent of each sampled user.
        assert_eq!(held_out.len(), 50);
        let (_, again) = hold_out_recent(&data, Some(10));
        assert_eq!(again, held_out);
        assert_eq!(choose_lists(&data, &served(), 10).users, 10);
    }
}
