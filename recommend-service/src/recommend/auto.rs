//! `auto`: the ranking and the prediction strategy chosen per fit, by evidence from the
//! training data alone.
//!
//! The most recent [`HOLD_OUT`] of each user's training interactions (for users with at
//! least [`MIN_INTERACTIONS`]) is set aside; every candidate is fitted once on the rest and
//! scored on what was set aside: precision@10 for lists (ratings ≥ 4 relevant, as in
//! `eval`), RMSE for predicted ratings. The best of each wins and is then fitted on
//! everything. Test data is never looked at.

use super::evaluate::{ranking_precision, rmse};
use super::matrix::Rating;
use super::model::{Direction, Model, Strategy};
use super::similarity::Similarity;

/// The share of each user's interactions held out, the most recent ones.
pub const HOLD_OUT: f64 = 0.2;
/// Users with fewer interactions keep all of them for fitting.
pub const MIN_INTERACTIONS: usize = 5;

/// The strategies `auto` chooses among (lists: all of them; predictions: those that
/// predict).
pub fn candidates() -> [Strategy; 4] {
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
    ]
}

/// What `auto` found on the held-out slice: every candidate's precision@10, best first,
/// and every predicting candidate's RMSE, best (lowest) first.
#[derive(Debug, Clone)]
pub struct Choice {
    pub ranked: Vec<(Strategy, f64)>,
    pub predicted: Vec<(Strategy, f64)>,
}

impl Choice {
    /// The strategy that ranks.
    pub fn winner(&self) -> Strategy {
        self.ranked[0].0
    }

    /// By how much the winner beat the runner-up (precision@10 points).
    pub fn margin(&self) -> f64 {
        margin(&self.ranked)
    }

    /// The strategy that predicts ratings.
    pub fn predictor(&self) -> Strategy {
        self.predicted[0].0
    }

    /// By how much the predictor beat the runner-up (RMSE, positive).
    pub fn predictor_margin(&self) -> f64 {
        -margin(&self.predicted)
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
    let (fit, held_out) = hold_out_recent(train);
    let (mut ranked, mut predicted) = (Vec::new(), Vec::new());
    for strategy in candidates() {
        let model = Model::fit(&fit, strategy);
        ranked.push((
            strategy,
            ranking_precision(&model, &held_out).unwrap_or(0.0),
        ));
        if let Some(error) = rmse(&model, &held_out) {
            predicted.push((strategy, error));
        }
    }
    // Stable: on a tie the earlier candidate (the cheaper fit) stays first.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    predicted.sort_by(|a, b| a.1.total_cmp(&b.1));
    Choice { ranked, predicted }
}

/// Splits `train` (oldest first) into what candidates fit on and each user's most recent
/// interactions.
fn hold_out_recent(train: &[Rating]) -> (Vec<Rating>, Vec<Rating>) {
    let mut total: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    for r in train {
        *total.entry(r.user).or_default() += 1;
    }
    let mut seen: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    let (mut fit, mut held_out) = (Vec::new(), Vec::new());
    for r in train {
        let count = total[&r.user];
        let position = seen.entry(r.user).or_default();
        *position += 1;
        let held = if count >= MIN_INTERACTIONS {
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
    use crate::recommend::generate::{Spec, generate};

    #[test]
    fn lists_and_predictions_are_chosen_apart_each_by_its_own_score() {
        let train: Vec<Rating> = generate(Spec {
            users: 200,
            items: 150,
            ratings: 8_000,
            seed: 5,
        })
        .into_iter()
        .map(|g| Rating {
            user: g.user,
            item: g.item,
            value: g.stars as f32,
        })
        .collect();
        let choice = choose(&train);
        assert_eq!(choice.ranked.len(), candidates().len());
        let predictors: Vec<Strategy> = choice.predicted.iter().map(|(s, _)| *s).collect();
        assert!(
            !predictors.contains(&Strategy::Ease),
            "EASE predicts nothing"
        );
        assert_eq!(predictors.len(), candidates().len() - 1);
        assert!(choice.ranked.windows(2).all(|w| w[0].1 >= w[1].1));
        assert!(choice.predicted.windows(2).all(|w| w[0].1 <= w[1].1));
        assert!(choice.margin() >= 0.0 && choice.predictor_margin() >= 0.0);
        let rmse = choice.predicted[0].1;
        assert!((0.5..1.5).contains(&rmse), "held-out RMSE {rmse}");
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
        let (fit, held_out) = hold_out_recent(&train);
        let held: Vec<(i64, i64)> = held_out.iter().map(|r| (r.user, r.item)).collect();
        assert_eq!(held, vec![(1, 8), (1, 9)]);
        assert_eq!(fit.len(), 11);
    }
}
