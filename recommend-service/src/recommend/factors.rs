//! Biased matrix factorisation for rating prediction, fitted by alternating least squares:
//! r̂(u, i) = μ + b_u + b_i + p_u · q_i (Koren, Bell and Volinsky, "Matrix factorization
//! techniques for recommender systems", 2009), fitted by ALS.
//!
//! Each half-sweep holds one side fixed and solves, per user (or item), a (k + 1)-sized
//! ridge regression for its factors and bias together: exact, so no learning rate to
//! tune, and deterministic for a seed (only the item factors' start is random). The
//! normal equations are summed by hand (k + 1 is small) and solved by faer's Cholesky,
//! one thread: [`ITERATIONS`] sweeps over 800,000 ratings take a few seconds.

use faer::linalg::solvers::Solve;
use faer::{Mat, Side};

use super::baseline::Baselines;
use super::matrix::{Csr, Matrix};
use super::rng::Rng;

/// Latent dimensions, and λ, the ridge on every row's factors and bias: chosen by RMSE on
/// each user's most recent 20 % of training of the 100k shape (as `auto` scores), among
/// k ∈ {4, 8, 16, 32} and λ ∈ {2 … 30} (16 and 10: 0.9041; 32 and 15: 0.9095; 8 and 5:
/// 0.9116), and among ridges growing with a row's ratings (weighted-λ; best 0.9154).
pub const FACTORS: usize = 16;
pub const REGULARISATION: f32 = 10.0;
/// Alternating sweeps (users then items); the training error settles after about ten.
pub const ITERATIONS: usize = 12;
/// Sweeps of a fit that starts from item factors fitted on most of the same data (blend's
/// held-out fit): blend's test RMSE at the 1M shape was 0.7799 after one, 0.7768 after
/// four, 0.7758 when fitted again from a random start (twelve).
pub const REFIT_ITERATIONS: usize = 2;
/// The most threads a half-sweep uses.
const THREADS: usize = 8;
/// Seed of the item factors' start.
pub const SEED: u64 = 17;
/// Spread of the item factors' start.
const INITIAL_SCALE: f64 = 0.1;

pub struct Factors {
    /// Latent dimensions.
    k: usize,
    mean: f32,
    users: Rows,
    items: Rows,
}

/// One side's fitted rows (users, or items).
struct Rows {
    /// Row-major, `k` per row.
    factors: Vec<f32>,
    bias: Vec<f32>,
}

impl Rows {
    fn row(&self, k: usize, index: u32) -> &[f32] {
        &self.factors[index as usize * k..(index as usize + 1) * k]
    }
}

impl Factors {
    pub fn fit(matrix: &Matrix, baselines: &Baselines, lambda: f32, k: usize) -> Self {
        let mut rng = Rng::new(SEED);
        let users = Rows {
            factors: vec![0.0; matrix.users() * k],
            bias: baselines.user_bias.clone(),
        };
        let items = Rows {
            factors: (0..matrix.items() * k)
                .map(|_| (rng.normal() * INITIAL_SCALE) as f32)
                .collect(),
            bias: baselines.item_bias.clone(),
        };
        Self::sweep(matrix, baselines, lambda, k, users, items, ITERATIONS)
    }

    /// Fits again on `matrix` from `start`'s item factors, fitted on most of the same
    /// data with the same numbering (blend's held-out fit): [`REFIT_ITERATIONS`] sweeps
    /// settle what [`ITERATIONS`] do from a random start.
    pub fn refit(matrix: &Matrix, baselines: &Baselines, lambda: f32, start: &Factors) -> Self {
        let k = start.k;
        let users = Rows {
            factors: vec![0.0; matrix.users() * k],
            bias: baselines.user_bias.clone(),
        };
        let items = Rows {
            factors: start.items.factors.clone(),
            bias: baselines.item_bias.clone(),
        };
        Self::sweep(matrix, baselines, lambda, k, users, items, REFIT_ITERATIONS)
    }

    fn sweep(
        matrix: &Matrix,
        baselines: &Baselines,
        lambda: f32,
        k: usize,
        mut users: Rows,
        mut items: Rows,
        iterations: usize,
    ) -> Self {
        let mean = baselines.mean;
        for _ in 0..iterations {
            solve_side(k, &matrix.by_user, mean, &items, &mut users, lambda);
            solve_side(k, &matrix.by_item, mean, &users, &mut items, lambda);
        }
        Self {
            k,
            mean,
            users,
            items,
        }
    }

    /// The predicted rating for (user, item) indices, unclamped; an unknown side
    /// contributes neither bias nor factors.
    pub fn predict(&self, user: Option<u32>, item: Option<u32>) -> f32 {
        let mut r = self.mean;
        if let Some(u) = user {
            r += self.users.bias[u as usize];
        }
        if let Some(i) = item {
            r += self.items.bias[i as usize];
        }
        if let (Some(u), Some(i)) = (user, item) {
            r += dot(self.users.row(self.k, u), self.items.row(self.k, i));
        }
        r
    }
}

/// Solves every row of `rows` (users, or items) for its factors and bias with the other
/// side's held fixed: minimise Σ (r − μ − b_other − b − p · q_other)² + λ (|p|² + b²).
/// Rows are independent, so they are solved in chunks on up to [`THREADS`] threads, each
/// writing its own rows: the same result on any number of threads.
fn solve_side(k: usize, rows: &Csr, mean: f32, fixed: &Rows, solving: &mut Rows, lambda: f32) {
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get().clamp(1, THREADS));
    let chunk = rows.rows().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for (n, (factors, bias)) in solving
            .factors
            .chunks_mut(chunk * k)
            .zip(solving.bias.chunks_mut(chunk))
            .enumerate()
        {
            scope.spawn(move || solve_rows(k, rows, n * chunk, mean, fixed, factors, bias, lambda));
        }
    });
}

/// [`solve_side`] for the rows from `first` on that `factors` and `bias` hold.
#[allow(clippy::too_many_arguments)]
fn solve_rows(
    k: usize,
    rows: &Csr,
    first: usize,
    mean: f32,
    fixed: &Rows,
    factors: &mut [f32],
    bias: &mut [f32],
    lambda: f32,
) {
    let d = k + 1;
    let mut x = vec![0f32; d];
    for (offset, bias) in bias.iter_mut().enumerate() {
        let r = first + offset;
        let (cols, values) = rows.row(r);
        if cols.is_empty() {
            continue;
        }
        let mut a = Mat::<f32>::zeros(d, d);
        let mut b = Mat::<f32>::zeros(d, 1);
        for (&c, &value) in cols.iter().zip(values) {
            x[..k].copy_from_slice(fixed.row(k, c));
            x[k] = 1.0;
            let y = value - mean - fixed.bias[c as usize];
            // Only the lower triangle: all the Cholesky reads.
            for j in 0..d {
                let column = a.col_as_slice_mut(j);
                for (slot, xi) in column[j..].iter_mut().zip(&x[j..]) {
                    *slot += xi * x[j];
                }
                b[(j, 0)] += x[j] * y;
            }
        }
        for j in 0..d {
            a[(j, j)] += lambda;
        }
        // Positive definite for λ > 0; a failure would leave the row as it was.
        let Ok(llt) = a.llt(Side::Lower) else {
            continue;
        };
        let w = llt.solve(&b);
        for f in 0..k {
            factors[offset * k + f] = w[(f, 0)];
        }
        *bias = w[(k, 0)];
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::Rating;

    /// Ratings made from two tastes: users 1–20 like items 1–5 and dislike 6–10, users
    /// 21–40 the other way round; one rating of each pair is left out for testing.
    fn two_tastes() -> (Vec<Rating>, Vec<Rating>) {
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for user in 1..=40i64 {
            for item in 1..=10i64 {
                let likes = (user <= 20) == (item <= 5);
                let rating = Rating {
                    user,
                    item,
                    value: if likes { 5.0 } else { 1.0 },
                };
                if (user + item) % 7 == 0 {
                    test.push(rating);
                } else {
                    train.push(rating);
                }
            }
        }
        (train, test)
    }

    fn rmse(f: &Factors, m: &Matrix, test: &[Rating]) -> f32 {
        let se: f32 = test
            .iter()
            .map(|r| (f.predict(m.user(r.user), m.item(r.item)) - r.value).powi(2))
            .sum();
        (se / test.len() as f32).sqrt()
    }

    #[test]
    fn factors_find_the_tastes_that_biases_cannot() {
        let (train, test) = two_tastes();
        let m = Matrix::new(&train);
        let baselines = Baselines::fit(&m);
        let f = Factors::fit(&m, &baselines, 1.0, FACTORS);
        let baseline_se: f32 = test
            .iter()
            .map(|r| (baselines.predict(m.user(r.user), m.item(r.item)) - r.value).powi(2))
            .sum();
        let baseline_rmse = (baseline_se / test.len() as f32).sqrt();
        let factors_rmse = rmse(&f, &m, &test);
        assert!(baseline_rmse > 1.5, "biases alone: {baseline_rmse}");
        assert!(factors_rmse < 0.5, "factors: {factors_rmse}");
    }

    #[test]
    fn the_same_data_gives_the_same_model_and_unknowns_fall_back_to_biases() {
        let (train, _) = two_tastes();
        let m = Matrix::new(&train);
        let baselines = Baselines::fit(&m);
        let (a, b) = (
            Factors::fit(&m, &baselines, 1.0, FACTORS),
            Factors::fit(&m, &baselines, 1.0, FACTORS),
        );
        assert_eq!(a.users.factors, b.users.factors);
        assert_eq!(a.items.factors, b.items.factors);
        let item = m.item(3);
        assert_eq!(
            a.predict(None, item),
            a.mean + a.items.bias[item.unwrap() as usize]
        );
        assert_eq!(a.predict(None, None), a.mean);
    }
}
