//! EASE, the closed-form item-item model (Steck, "Embarrassingly Shallow Autoencoders
//! for Sparse Data", 2019).
//!
//! With X the binary user × item matrix of who interacted with what, the item-item
//! weights are B = I − P · diag(1 / diag(P)) with the diagonal set to zero, where
//! P = (XᵀX + λI)⁻¹: one regularised Gram-matrix inverse, exact, no iterations, no seed.
//! A user's score for item j is Σ B[i][j] over the items i of their profile.
//!
//! The cost is in the dense n × n inverse (n = items): memory 3 n² floats and time
//! growing as n³. Up to [`MAX_ITEMS`] trips it stays cheap enough; above it [`Ease::fit`]
//! declines and the caller falls back to item-cosine neighbours.

use nalgebra::DMatrix;

use super::matrix::Matrix;
use super::model::Because;

/// The largest catalog EASE fits. nalgebra's Cholesky and inverse are not blocked: 1,682
/// items fit in about 2.5 s on the 2-core machine, 3,700 took minutes, so catalogs above
/// 2,000 items rank by item-cosine instead (a blocked solver such as faer's would lift this).
pub const MAX_ITEMS: usize = 2_000;

/// λ, the ridge on the Gram matrix's diagonal: the best of 50, 100, 250, 500 and 1,000 by
/// `eval`'s precision@10 on the 100k shape.
pub const LAMBDA: f32 = 250.0;

pub struct Ease {
    items: usize,
    /// Bᵀ: column i holds item i's weights towards every item (contiguous for scoring).
    from: DMatrix<f32>,
}

impl Ease {
    /// `None` when the catalog is larger than [`MAX_ITEMS`] (or empty).
    pub fn fit(matrix: &Matrix, lambda: f32) -> Option<Self> {
        let n = matrix.items();
        if n == 0 || n > MAX_ITEMS {
            return None;
        }
        let mut gram = DMatrix::<f32>::zeros(n, n);
        for u in 0..matrix.users() {
            let (items, _) = matrix.by_user.row(u);
            for &a in items {
                for &b in items {
                    gram[(a as usize, b as usize)] += 1.0;
                }
            }
        }
        for i in 0..n {
            gram[(i, i)] += lambda;
        }
        // XᵀX + λI is symmetric positive definite for λ > 0, so Cholesky succeeds.
        let mut weights = gram.cholesky()?.inverse();
        for j in 0..n {
            let pivot = weights[(j, j)];
            let mut column = weights.column_mut(j);
            column /= -pivot;
            column[j] = 0.0;
        }
        Some(Self {
            items: n,
            from: weights.transpose(),
        })
    }

    /// Adds every item's score for a profile of `items` into `score` (NaN = none yet),
    /// naming the profile item that contributed most.
    pub fn score(
        &self,
        profile: &[(u32, f32)],
        score: &mut [f32],
        because: &mut [Option<Because>],
    ) {
        let mut best = vec![f32::NEG_INFINITY; self.items];
        for &(i, _) in profile {
            for (j, &w) in self.from.column(i as usize).iter().enumerate() {
                let slot = &mut score[j];
                *slot = if slot.is_nan() { w } else { *slot + w };
                if w > best[j] {
                    best[j] = w;
                    because[j] = Some(Because::Item(i));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::Rating;

    fn ratings(rows: &[(i64, &[i64])]) -> Vec<Rating> {
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
        let mut because = vec![None; matrix.items()];
        ease.score(&[(one, 1.0)], &mut score, &mut because);
        let two = matrix.item(2).unwrap() as usize;
        let four = matrix.item(4).unwrap() as usize;
        for (j, s) in score.iter().enumerate() {
            if j != two {
                assert!(score[two] > *s, "item {j}: {s} vs {}", score[two]);
            }
        }
        assert!(score[four] <= 0.0, "never seen with 1: {}", score[four]);
        assert_eq!(because[two], Some(Because::Item(one)));
        assert_eq!(score[one as usize], 0.0, "no weight on itself");
    }

    #[test]
    fn a_catalog_over_the_bound_is_declined() {
        let items: Vec<i64> = (1..=MAX_ITEMS as i64 + 1).collect();
        let matrix = Matrix::new(&ratings(&[(1, &items)]));
        assert!(Ease::fit(&matrix, LAMBDA).is_none());
    }
}
