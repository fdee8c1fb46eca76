//! RP3beta (Paudel, Christoffel, Newell and Bernstein, "Updatable, Accurate, Diverse,
//! and Scalable Recommendations for Interactive Applications", 2016): a three-step random
//! walk on the graph of who took what — from an item to one of its users, to another
//! item of theirs — with each destination's probability divided by its popularity to the
//! power β:
//!
//! W[i → j] = (1 / |i|) · Σ_u X_ui X_uj / |u| · |j|^−β (|i|: item i's users, |u|: user
//! u's items), and a user's score for j sums W[i → j] over their items, each weighted as
//! EASE weights it ([`ease::profile_weight`]).
//!
//! β trades popular destinations against rare ones, and the best value is sharp: on the
//! 100k shape's held-out slice precision@10 was 0.1694 at 0.74, 0.1733 at 0.76, 0.1557
//! at 0.82 and 0.0848 at 0.9. So every fit learns it on the training data's held-out
//! slice, coarse to fine ([`COARSE`], [`FINE`]). The penalty only scales destinations, so one walk
//! and one sum per held-out user serve every β tried.
//!
//! The cost is EASE's Gram matrix (Σ |profile|² / 2 additions) without its inverse: about
//! 1.5 s at the 1M shape. Its n × n weights are bounded like EASE's ([`ease::MAX_ITEMS`]);
//! above that the caller falls back to item-cosine neighbours.

use super::auto;
use super::ease::{self, ItemWeights};
use super::evaluate;
use super::matrix::{Matrix, Rating};

/// β without a held-out slice to learn it on: what the 100k and 1M shapes' held-out
/// slices chose (0.76 and 0.78).
pub const BETA: f32 = 0.78;

/// The walk's probabilities before the popularity penalty.
pub struct Walk {
    raw: ItemWeights,
    /// Users per item.
    popularity: Vec<f32>,
}

impl Walk {
    /// `None` when the catalog is larger than [`ease::MAX_ITEMS`] (or empty).
    pub fn fit(matrix: &Matrix) -> Option<Self> {
        let n = matrix.items();
        if n == 0 || n > ease::MAX_ITEMS {
            return None;
        }
        let mut from = ease::lower_gram(matrix, 0.0, |u| 1.0 / matrix.by_user.len(u).max(1) as f32);
        let popularity: Vec<f32> = (0..n).map(|i| matrix.by_item.len(i) as f32).collect();
        // Column i is item i's walk: its upper part mirrors row i's lower part.
        for i in 0..n {
            for j in 0..i {
                from[(j, i)] = from[(i, j)];
            }
        }
        for i in 0..n {
            let out = 1.0 / popularity[i].max(1.0);
            let column = from.col_as_slice_mut(i);
            for w in column.iter_mut() {
                *w *= out;
            }
            column[i] = 0.0;
        }
        Some(Self {
            raw: ItemWeights::new(from),
            popularity,
        })
    }

    /// Each destination's factor for `beta`: its users to the power −β.
    fn penalty(&self, beta: f32) -> Vec<f32> {
        self.popularity
            .iter()
            .map(|p| p.max(1.0).powf(-beta))
            .collect()
    }

    /// The weights with destinations penalised by `beta`.
    pub fn weights(mut self, beta: f32) -> ItemWeights {
        let penalty = self.penalty(beta);
        self.raw.scale_destinations(&penalty);
        self.raw
    }
}

/// β for `train` (oldest first) and its held-out precision@10: the best tried on
/// the held-out slice of up to [`auto::SAMPLE_USERS`] users (the lowest on a tie), with
/// the walk fitted on the rest; `None` when nothing relevant is held out or the catalog
/// is over the bound.
pub fn learn(train: &[Rating]) -> Option<(f32, f64)> {
    let (fit, held_out) = auto::hold_out_recent(train, Some(auto::SAMPLE_USERS));
    learn_on(&fit, &held_out)
}

/// β and its precision@10 on `held_out` with the walk fitted on `fit`: what [`learn`]
/// does on its own hold-out, and what the service's `auto` does on the slice it scores
/// every candidate on (one walk serves the whole search).
pub fn learn_on(fit: &[Rating], held_out: &[Rating]) -> Option<(f32, f64)> {
    let matrix = Matrix::new(fit);
    let walk = Walk::fit(&matrix)?;
    let at = |betas: &[f32]| {
        let penalties: Vec<Vec<f32>> = betas.iter().map(|b| walk.penalty(*b)).collect();
        let precision = evaluate::variant_precision(
            &matrix,
            held_out,
            betas.len(),
            |profile| {
                let mut raw = vec![0.0; matrix.items()];
                walk.raw.score(profile.items, &mut raw);
                raw
            },
            |raw, k, score| {
                for ((s, r), p) in score.iter_mut().zip(raw).zip(&penalties[k]) {
                    *s = r * p;
                }
            },
        )?;
        Some(best(betas.iter().copied().zip(precision)))
    };
    let coarse: Vec<f32> = (0..=12).map(|k| k as f32 * COARSE).collect();
    let (around, precision) = at(&coarse)?;
    let fine: Vec<f32> = (1..=3)
        .flat_map(|k| [-1.0, 1.0].map(|sign| around + sign * k as f32 * FINE))
        .filter(|b| *b >= 0.0)
        .collect();
    let (beta, fine_precision) = at(&fine)?;
    Some(best([(around, precision), (beta, fine_precision)]))
}

/// The β tried first, then around the best of them by [`FINE`] steps (up to 0.06 either
/// way): 19 values for the 61 of a 0.02 grid over 0–1.2. The precision around the best
/// is unimodal on both shapes' held-out slices.
const COARSE: f32 = 0.1;
const FINE: f32 = 0.02;

/// The best (β, precision), the lowest β on a tie.
fn best(scores: impl IntoIterator<Item = (f32, f64)>) -> (f32, f64) {
    scores
        .into_iter()
        .fold((f32::NAN, f64::NEG_INFINITY), |best, (beta, precision)| {
            if precision > best.1 || (precision == best.1 && beta < best.0) {
                (beta, precision)
            } else {
                best
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::ease::tests::ratings;

    #[test]
    fn the_walk_goes_through_the_users_of_an_item_and_beta_lowers_popular_destinations() {
        // Item 1's users: 1 (items 1, 2) and 2 (items 1, 2, 3). Item 3 is also taken by
        // three others, so it is more popular than 2 (2 users against 4).
        let matrix = Matrix::new(&ratings(&[
            (1, &[1, 2]),
            (2, &[1, 2, 3]),
            (3, &[3, 4]),
            (4, &[3, 4]),
            (5, &[3, 4]),
        ]));
        let index = |id| matrix.item(id).unwrap();
        let scores = |beta: f32| {
            let weights = Walk::fit(&matrix).unwrap().weights(beta);
            let mut score = vec![f32::NAN; matrix.items()];
            weights.score(&[(index(1), 4.0)], &mut score);
            score
        };
        let plain = scores(0.0);
        // 1 → user 1 (½) → 2 (½) and 1 → user 2 (½) → 2, 3 (⅓ each), times profile
        // weight 2.
        let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
        assert!(
            close(plain[index(2) as usize], 2.0 * (0.25 + 1.0 / 6.0)),
            "{plain:?}"
        );
        assert!(close(plain[index(3) as usize], 2.0 / 6.0), "{plain:?}");
        assert_eq!(
            plain[index(4) as usize],
            0.0,
            "not reachable in three steps"
        );
        assert_eq!(plain[index(1) as usize], 0.0, "never itself");
        // β divides by users^β: item 3 (4 users) loses more than item 2 (2 users).
        let penalised = scores(1.0);
        assert!(close(
            penalised[index(2) as usize],
            plain[index(2) as usize] / 2.0
        ));
        assert!(close(
            penalised[index(3) as usize],
            plain[index(3) as usize] / 4.0
        ));
    }

    #[test]
    fn beta_is_learned_on_the_held_out_slice_the_same_each_fit() {
        let data = evaluate::tests::data();
        let (beta, precision) = learn(&data).unwrap();
        assert_eq!(learn(&data), Some((beta, precision)), "deterministic");
        // Better on the held-out slice than without a penalty, or than dividing by the
        // whole popularity, both of which the grid also tried.
        let (fit, held_out) = auto::hold_out_recent(&data, Some(auto::SAMPLE_USERS));
        let matrix = Matrix::new(&fit);
        let at = |b: f32| {
            let weights = Walk::fit(&matrix).unwrap().weights(b);
            evaluate::variant_precision(
                &matrix,
                &held_out,
                1,
                |profile| profile.items.to_vec(),
                |items, _, score| weights.score(items, score),
            )
            .unwrap()[0]
        };
        assert!(
            (at(beta) - precision).abs() < 1e-12,
            "the figure it reports"
        );
        assert!(precision > at(0.0) && precision > at(1.0), "β {beta}");
        // Nothing held out to learn from (each user's 4 items are all kept).
        let few = ratings(&[(1, &[1, 2, 3, 4]), (2, &[2, 3, 4, 5])]);
        assert_eq!(learn(&few), None);
    }
}
