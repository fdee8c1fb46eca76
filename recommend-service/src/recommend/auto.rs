//! `auto`: the ranking strategy chosen per fit, by evidence from the training data alone.
//!
//! The most recent [`HOLD_OUT`] of each user's training interactions (for users with at
//! least [`MIN_INTERACTIONS`]) is set aside; every candidate is fitted on the rest and
//! scored by precision@10 on what was set aside (ratings ≥ 4 relevant, as in `eval`); the
//! best wins and is then fitted on everything. Test data is never looked at.

use super::evaluate::ranking_precision;
use super::matrix::Rating;
use super::model::{Direction, Model, Strategy};
use super::similarity::Similarity;

/// The share of each user's interactions held out, the most recent ones.
pub const HOLD_OUT: f64 = 0.2;
/// Users with fewer interactions keep all of them for fitting.
pub const MIN_INTERACTIONS: usize = 5;

/// The strategies `auto` chooses among.
pub fn candidates() -> [Strategy; 3] {
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
    ]
}

/// What `auto` found: every candidate's precision@10 on the held-out slice, best first.
#[derive(Debug, Clone)]
pub struct Choice {
    pub ranked: Vec<(Strategy, f64)>,
}

impl Choice {
    pub fn winner(&self) -> Strategy {
        self.ranked[0].0
    }

    /// By how much the winner beat the runner-up (precision@10 points).
    pub fn margin(&self) -> f64 {
        match self.ranked.as_slice() {
            [(_, best), (_, second), ..] => best - second,
            _ => 0.0,
        }
    }
}

/// Chooses among [`candidates`]; `train` must be in time order, oldest first.
pub fn choose(train: &[Rating]) -> Choice {
    let (fit, held_out) = hold_out_recent(train);
    let mut ranked: Vec<(Strategy, f64)> = candidates()
        .into_iter()
        .map(|strategy| {
            let model = Model::fit(&fit, strategy);
            (
                strategy,
                ranking_precision(&model, &held_out).unwrap_or(0.0),
            )
        })
        .collect();
    // Stable: on a tie the earlier candidate (the cheaper fit) stays first.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    Choice { ranked }
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
