//! Baseline predictors: the global mean plus a regularised bias per user and per item
//! (Koren, "Factor in the neighbors", 2008). A neighbourhood model predicts the residual
//! left after the baseline, so a user who rates everything high or an item everyone likes
//! does not swamp the similarities.

use super::matrix::Matrix;

/// Shrinks item biases towards zero when an item has few ratings.
const ITEM_REGULARISATION: f32 = 25.0;
/// Shrinks user biases towards zero when a user has few ratings.
const USER_REGULARISATION: f32 = 10.0;
/// Alternating passes; the biases settle after a few.
const PASSES: usize = 3;

#[derive(Debug, Clone, Default)]
pub struct Baselines {
    pub mean: f32,
    pub user_bias: Vec<f32>,
    pub item_bias: Vec<f32>,
}

impl Baselines {
    pub fn fit(m: &Matrix) -> Self {
        let n = m.entries().max(1) as f64;
        let sum: f64 = (0..m.users())
            .map(|u| m.by_user.row(u).1.iter().map(|v| *v as f64).sum::<f64>())
            .sum();
        let mean = if m.entries() == 0 {
            0.0
        } else {
            (sum / n) as f32
        };
        let mut user_bias = vec![0f32; m.users()];
        let mut item_bias = vec![0f32; m.items()];
        for _ in 0..PASSES {
            for (i, bias) in item_bias.iter_mut().enumerate() {
                let (users, values) = m.by_item.row(i);
                let residual: f32 = users
                    .iter()
                    .zip(values)
                    .map(|(u, r)| r - mean - user_bias[*u as usize])
                    .sum();
                *bias = residual / (ITEM_REGULARISATION + users.len() as f32);
            }
            for (u, bias) in user_bias.iter_mut().enumerate() {
                let (items, values) = m.by_user.row(u);
                let residual: f32 = items
                    .iter()
                    .zip(values)
                    .map(|(i, r)| r - mean - item_bias[*i as usize])
                    .sum();
                *bias = residual / (USER_REGULARISATION + items.len() as f32);
            }
        }
        Self {
            mean,
            user_bias,
            item_bias,
        }
    }

    /// The baseline for a (user, item) pair; an unknown side contributes no bias.
    pub fn predict(&self, user: Option<u32>, item: Option<u32>) -> f32 {
        self.mean
            + user.map_or(0.0, |u| self.user_bias[u as usize])
            + item.map_or(0.0, |i| self.item_bias[i as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::matrix::Rating;

    #[test]
    fn a_generous_user_gets_a_positive_bias_and_a_disliked_item_a_negative_one() {
        let mut ratings = Vec::new();
        for user in 1..=20 {
            ratings.push(Rating {
                user,
                item: 1,
                value: 4.0,
            });
            ratings.push(Rating {
                user,
                item: 2,
                value: 2.0,
            });
        }
        ratings.push(Rating {
            user: 99,
            item: 1,
            value: 5.0,
        });
        ratings.push(Rating {
            user: 99,
            item: 2,
            value: 5.0,
        });
        let m = Matrix::new(&ratings);
        let b = Baselines::fit(&m);
        assert!((b.mean - 130.0 / 42.0).abs() < 1e-5, "{}", b.mean);
        let generous = m.user(99).unwrap() as usize;
        assert!(b.user_bias[generous] > 0.1);
        assert!(b.item_bias[m.item(2).unwrap() as usize] < -0.3);
        assert!(b.item_bias[m.item(1).unwrap() as usize] > 0.3);
    }
}
