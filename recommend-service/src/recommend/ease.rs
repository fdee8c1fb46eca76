//! EASE, the closed-form item-item model (Steck, "Embarrassingly Shallow Autoencoders
//! for Sparse Data", 2019).
//!
//! With X the binary user × item matrix of who interacted with what, the item-item
//! weights are B = I − P · diag(1 / diag(P)) with the diagonal set to zero, where
//! P = (XᵀX + λI)⁻¹: one regularised Gram-matrix inverse, exact, no iterations, no seed.
//! A user's score for item j is Σ B[i][j] over the items i of their profile.
//!
//! The cost is in the dense n × n inverse (n = items): time growing as n³, memory two
//! n × n matrices while fitting and one kept. faer's blocked, SIMD Cholesky does 1,682
//! items in about 0.35 s and 3,700 in about 2.5 s on one core of the busy 2-core
//! machine (nalgebra's unblocked one: 5–6 s and minutes). Up to [`MAX_ITEMS`] trips it
//! stays within the fit aims; above it [`Ease::fit`] declines and the caller falls back to
//! item-cosine neighbours.

use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, Side};

use super::matrix::Matrix;
use super::model::Because;

/// The largest catalog EASE fits: 4,000 items is about 3 s (n³ from 3,700's 2.5 s) and
/// 64 MB of weights kept, 128 MB while fitting; 8,000 would be 8× the time and 4× the
/// memory, beyond the 15 s a fit may take.
pub const MAX_ITEMS: usize = 4_000;

/// λ, the ridge on the Gram matrix's diagonal: the best of 50, 100, 250, 500 and 1,000 by
/// `eval`'s precision@10 on the 100k shape.
pub const LAMBDA: f32 = 250.0;

/// Dense item-to-item weights, scored as a user's items' weights summed: EASE's, or
/// RP3beta's ([`super::rp3`]).
pub struct ItemWeights {
    /// Bᵀ, column-major: column i holds item i's weights towards every item, contiguous
    /// for scoring.
    from: Mat<f32>,
}

pub struct Ease;

impl Ease {
    /// `None` when the catalog is larger than [`MAX_ITEMS`] (or empty).
    pub fn fit(matrix: &Matrix, lambda: f32) -> Option<ItemWeights> {
        let n = matrix.items();
        if n == 0 || n > MAX_ITEMS {
            return None;
        }
        let gram = lower_gram(matrix, lambda, |_| 1.0);
        // XᵀX + λI is symmetric positive definite for λ > 0, so Cholesky succeeds.
        let mut weights = gram.llt(Side::Lower).ok()?.inverse();
        drop(gram);
        // B = I − P · diag(1 / diag(P)); P is symmetric, so row i of B (what item i
        // gives every item j, −P[j][i] / P[j][j]) is column i of P scaled row by row.
        let scale: Vec<f32> = (0..n).map(|j| -1.0 / weights[(j, j)]).collect();
        for i in 0..n {
            let column = weights.col_as_slice_mut(i);
            for (w, s) in column.iter_mut().zip(&scale) {
                *w *= s;
            }
            column[i] = 0.0;
        }
        Some(ItemWeights { from: weights })
    }
}

impl ItemWeights {
    /// Column i: item i's weights towards every item.
    pub(crate) fn new(from: Mat<f32>) -> Self {
        Self { from }
    }

    /// Multiplies every weight towards item j by `scale[j]`.
    pub(crate) fn scale_destinations(&mut self, scale: &[f32]) {
        for i in 0..self.from.ncols() {
            for (w, s) in self.from.col_as_slice_mut(i).iter_mut().zip(scale) {
                *w *= s;
            }
        }
    }

    /// Sets every item's score for a non-empty profile (an empty one leaves `score` as
    /// it is): the sum of each profile item's weights, weighted by [`profile_weight`]. A
    /// plain sum down contiguous columns, which the compiler vectorises; which item
    /// contributed most is asked only for the items listed ([`Ease::because`]): tracking
    /// it for every item made scoring about 1.7 ms a user at the 1M shape.
    pub fn score(&self, profile: &[(u32, f32)], score: &mut [f32]) {
        if profile.is_empty() {
            return;
        }
        score.fill(0.0);
        for &(i, preference) in profile {
            let weight = profile_weight(preference);
            for (s, &w) in score.iter_mut().zip(self.from.col_as_slice(i as usize)) {
                *s += w * weight;
            }
        }
    }

    /// The profile item that contributed most to item `j`'s score (the first on a tie).
    pub fn because(&self, profile: &[(u32, f32)], j: u32) -> Option<Because> {
        let mut best = (f32::NEG_INFINITY, None);
        for &(i, preference) in profile {
            let w = self.from[(j as usize, i as usize)] * profile_weight(preference);
            if w > best.0 {
                best = (w, Some(Because::Item(i)));
            }
        }
        best.1
    }
}

/// How much a profile item counts when scoring: a 5 three times a 3, a 1 or 2 (or a
/// view, preference 1) a quarter. The weights are fitted on who took what; weighting the
/// sum by how much they liked it raised precision@10 on each user's held-out recent
/// interactions of the 100k shape from 0.1459 to 0.1613 (unweighted: 0.1459; pure
/// preference − 2, which makes a view count against: 0.1626; the preference itself:
/// 0.1575).
pub(crate) fn profile_weight(preference: f32) -> f32 {
    (preference - 2.0).max(0.25)
}

/// The lower triangle of XᵀDX + λI (all the Cholesky reads), D the diagonal of each
/// user's `weight`, built from each user's items: Σ |profile|² / 2 additions instead of
/// a dense product, written down columns.
pub(crate) fn lower_gram(matrix: &Matrix, lambda: f32, weight: impl Fn(usize) -> f32) -> Mat<f32> {
    let n = matrix.items();
    let mut gram = Mat::<f32>::zeros(n, n);
    for u in 0..matrix.users() {
        let (items, _) = matrix.by_user.row(u);
        let w = weight(u);
        // Rows are sorted: items[k..] are the rows at or below the diagonal of column a.
        for (k, &a) in items.iter().enumerate() {
            let column = gram.col_as_slice_mut(a as usize);
            for &b in &items[k..] {
                column[b as usize] += w;
            }
        }
    }
    for i in 0..n {
        gram[(i, i)] += lambda;
    }
    gram
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::recommend::Rating;

    /// Each user's items, all rated 4.
    pub(crate) fn ratings(rows: &[(i64, &[i64])]) -> Vec<Rating> {
        rows.iter()
            .flat_map(|(user, items)| {
                items.iter().map(move |&item| Rating {
                    user: *user,
                    item,
                    value: 4.0,
                })
            })
            .collect()
    }

    #[test]
    fn the_item_taken_with_a_users_item_by_others_scores_highest() {
        // Trips 1 and 2 go together; 3 and 4 go together.
        let matrix = Matrix::new(&ratings(&[
            (1, &[1, 2]),
            (2, &[1, 2]),
            (3, &[1, 2, 3]),
            (4, &[3, 4]),
            (5, &[3, 4]),
            (6, &[1]),
        ]));
        let ease = Ease::fit(&matrix, 1.0).unwrap();
        let one = matrix.item(1).unwrap();
        let mut score = vec![f32::NAN; matrix.items()];
        ease.score(&[(one, 1.0)], &mut score);
        let two = matrix.item(2).unwrap() as usize;
        let four = matrix.item(4).unwrap() as usize;
        for (j, s) in score.iter().enumerate() {
            if j != two {
                assert!(score[two] > *s, "item {j}: {s} vs {}", score[two]);
            }
        }
        assert!(score[four] <= 0.0, "never seen with 1: {}", score[four]);
        assert_eq!(
            ease.because(&[(one, 1.0)], two as u32),
            Some(Because::Item(one))
        );
        assert_eq!(score[one as usize], 0.0, "no weight on itself");
    }

    #[test]
    fn the_gram_matrix_counts_co_occurrences_below_the_diagonal() {
        let matrix = Matrix::new(&ratings(&[(1, &[1, 2, 3]), (2, &[3, 1]), (3, &[2])]));
        let gram = lower_gram(&matrix, 0.5, |_| 1.0);
        // Items 1, 2, 3 are indices 0, 1, 2; (row, column) with row ≥ column.
        let expected = [
            ((0, 0), 2.5),
            ((1, 0), 1.0),
            ((2, 0), 2.0),
            ((1, 1), 2.5),
            ((2, 1), 1.0),
            ((2, 2), 2.5),
        ];
        for ((r, c), value) in expected {
            assert_eq!(gram[(r, c)], value, "({r}, {c})");
        }
    }

    #[test]
    fn a_catalog_over_the_bound_is_declined() {
        let items: Vec<i64> = (1..=MAX_ITEMS as i64 + 1).collect();
        let matrix = Matrix::new(&ratings(&[(1, &items)]));
        assert!(Ease::fit(&matrix, LAMBDA).is_none());
    }
}
