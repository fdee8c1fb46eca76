//! `blend`: a stacked rating predictor. Its parts (user-cosine, item-cosine, the
//! baselines and mf) each predict a rating; blend predicts w₀ + Σ wₖ × partₖ, with the
//! weights learned by least squares on the training data's held-out slice (the most
//! recent 20 % of up to 1,000 users, as `auto` holds out) from parts fitted on the rest,
//! then the parts are fitted on everything, each at most once more ([`fit`]). Test data
//! is never looked at.
//!
//! The baseline's weight comes out negative: the neighbourhood parts are each the
//! baseline plus a residual, so the stack learns how much of each residual to keep.

use faer::linalg::solvers::Solve;
use faer::{Mat, Side};

use super::auto;
use super::matrix::{Matrix, Rating};
use super::model::{self, Learned, Model, Strategy};

/// user-cosine, item-cosine, baseline, mf: the order of [`Weights::parts`].
pub const PARTS: usize = 4;
/// Fewer held-out ratings than this keep [`Weights::FIXED`]: five weights need more
/// evidence than a handful of ratings.
pub const MIN_HELD_OUT: usize = 200;
/// A ridge on the part weights, per held-out rating: keeps the normal equations
/// solvable when two parts predict alike, without moving the weights measurably.
const RIDGE: f64 = 1e-6;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    pub intercept: f32,
    pub parts: [f32; PARTS],
}

impl Weights {
    /// Without a time order to learn from: half mf, half user-cosine (the blend before
    /// its weights were learned).
    pub const FIXED: Weights = Weights {
        intercept: 0.0,
        parts: [0.5, 0.0, 0.0, 0.5],
    };

    pub fn apply(&self, parts: [f32; PARTS]) -> f32 {
        self.intercept
            + self
                .parts
                .iter()
                .zip(parts)
                .map(|(w, p)| w * p)
                .sum::<f32>()
    }
}

/// blend fitted on `train` (oldest first), each part once where the data is large: the
/// weights are learned on the held-out slice of up to [`auto::SAMPLE_USERS`] users from
/// the parts fitted on the rest (user neighbours for those users alone), then the parts
/// are fitted on everything, mf from the held-out fit's factors and item-cosine reused
/// when the slice is small ([`model::REUSE_BELOW`]); [`Weights::FIXED`] when too little
/// is held out to learn from.
pub fn fit(train: &[Rating]) -> Model {
    let (fit, held_out) = auto::hold_out_recent(train, Some(auto::SAMPLE_USERS));
    let matrix = Matrix::new(train);
    if held_out.len() < MIN_HELD_OUT {
        return Model::fit_weighted(matrix, Strategy::Blend, Weights::FIXED);
    }
    let rest = Matrix::numbered_as(&fit, &matrix);
    let scored = model::scored_users(&rest, &held_out);
    let parts = Model::fit_for(rest, Strategy::Blend, Learned::DEFAULT, Some(&scored));
    let weights = learn(&parts, &held_out);
    let reuse = model::held_out_share(&held_out, train) < model::REUSE_BELOW;
    Model::refit_blend(matrix, weights, parts, reuse)
}

/// The weights that best predict `held_out` from `parts` (a blend fitted without it).
fn learn(parts: &Model, held_out: &[Rating]) -> Weights {
    let rows: Vec<([f32; PARTS], f32)> = held_out
        .iter()
        .filter_map(|r| Some((parts.blend_parts(r.user, r.item)?, r.value)))
        .collect();
    least_squares(&rows).unwrap_or(Weights::FIXED)
}

/// The intercept and part weights minimising the squared error over `rows` (parts,
/// rating); `None` when the equations cannot be solved.
pub fn least_squares(rows: &[([f32; PARTS], f32)]) -> Option<Weights> {
    const D: usize = PARTS + 1;
    let mut a = Mat::<f64>::zeros(D, D);
    let mut b = Mat::<f64>::zeros(D, 1);
    for (parts, value) in rows {
        let mut x = [1.0f64; D];
        for (slot, p) in x[1..].iter_mut().zip(parts) {
            *slot = *p as f64;
        }
        for i in 0..D {
            b[(i, 0)] += x[i] * *value as f64;
            for j in 0..D {
                a[(i, j)] += x[i] * x[j];
            }
        }
    }
    for i in 1..D {
        a[(i, i)] += RIDGE * rows.len() as f64;
    }
    let w = a.llt(Side::Lower).ok()?.solve(&b);
    let weight = |i: usize| w[(i, 0)] as f32;
    let weights = Weights {
        intercept: weight(0),
        parts: std::array::from_fn(|k| weight(k + 1)),
    };
    (weights.intercept.is_finite() && weights.parts.iter().all(|w| w.is_finite()))
        .then_some(weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_recovers_the_weights_that_made_the_ratings() {
        let truth = Weights {
            intercept: 0.25,
            parts: [0.5, 0.75, -1.0, 0.5],
        };
        let rows: Vec<([f32; PARTS], f32)> = (0..500)
            .map(|n| {
                let parts =
                    std::array::from_fn(|k| 1.0 + ((n * (k + 3) + k * k) % 17) as f32 / 4.0);
                (parts, truth.apply(parts))
            })
            .collect();
        let learned = least_squares(&rows).unwrap();
        assert!(
            (learned.intercept - truth.intercept).abs() < 1e-2,
            "{learned:?}"
        );
        for (l, t) in learned.parts.iter().zip(truth.parts) {
            assert!((l - t).abs() < 1e-2, "{learned:?}");
        }
        assert_eq!(least_squares(&[]), None, "nothing to learn from");
    }

    fn rmse(model: &Model, test: &[Rating]) -> f64 {
        crate::recommend::evaluate::rmse(model, test).unwrap()
    }

    /// Generated ratings oldest first, every fifth for testing.
    fn time_split() -> (Vec<Rating>, Vec<Rating>) {
        use crate::recommend::generate::{Spec, generate};
        let mut data = generate(Spec {
            users: 200,
            items: 150,
            ratings: 8_000,
            seed: 5,
        });
        data.sort_by_key(|g| (g.timestamp, g.user, g.item));
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (n, g) in data.iter().enumerate() {
            if n % 5 == 0 { &mut test } else { &mut train }.push(g.rating());
        }
        (train, test)
    }

    #[test]
    fn learned_weights_predict_better_than_the_fixed_ones_and_are_the_same_each_fit() {
        let (train, test) = time_split();
        let learned = fit(&train);
        let weights = learned.learned.blend;
        assert_ne!(weights, Weights::FIXED);
        assert_eq!(fit(&train).learned.blend, weights, "deterministic");
        let fixed = Model::fit_matrix(Matrix::new(&train), Strategy::Blend);
        let (learned, fixed) = (rmse(&learned, &test), rmse(&fixed, &test));
        assert!(learned < fixed - 0.005, "learned {learned}, fixed {fixed}");
        // Too little held out to learn five weights from: the fixed ones.
        assert_eq!(fit(&train[..300]).learned.blend, Weights::FIXED);
    }

    #[test]
    fn a_blend_refitted_from_its_held_out_parts_predicts_as_one_fitted_from_scratch() {
        let (train, test) = time_split();
        let (fit, held_out) = auto::hold_out_recent(&train, Some(auto::SAMPLE_USERS));
        let matrix = Matrix::new(&train);
        let parts = Model::fit_matrix(Matrix::numbered_as(&fit, &matrix), Strategy::Blend);
        let weights = learn(&parts, &held_out);
        let scratch = rmse(
            &Model::fit_weighted(matrix.clone(), Strategy::Blend, weights),
            &test,
        );
        // mf from the held-out fit's factors, item-cosine as the held-out fit made it.
        let reused = Model::refit_blend(matrix, weights, parts, true);
        assert_eq!(reused.learned.blend, weights);
        let reused = rmse(&reused, &test);
        assert!(
            (reused - scratch).abs() < 0.01,
            "reused {reused}, scratch {scratch}"
        );
    }
}
