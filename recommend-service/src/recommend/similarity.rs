//! Similarities between two rating vectors, and the nearest neighbours of every row.
//!
//! - **Euclidean**, as the original platform had it: `1 / (1 + d)` with `d` the Euclidean
//!   distance over co-rated entries; nothing co-rated means similarity 0 (the original
//!   returned 1 there, and hid that by sorting the wrong way).
//! - **Cosine** of the two whole vectors (norms over all their entries), so a pair that
//!   shares one rating is not "identical".
//! - **Pearson** correlation of the baseline residuals over co-rated entries, shrunk by
//!   `(n - 1) / (n - 1 + λ)` for `n` co-rated entries (significance weighting): a
//!   correlation seen on two ratings is mostly noise.
//!
//! [`neighbours`] computes a row's similarity to every other row in one sweep over the
//! sparse matrix (only pairs that share an entry are touched) and keeps the `k` best, in
//! parallel over rows.

use std::str::FromStr;

use super::matrix::Csr;

/// Shrinkage of Pearson correlations: with 100 co-rated entries a correlation keeps half
/// its weight.
pub const PEARSON_SHRINKAGE: f32 = 100.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Similarity {
    Euclidean,
    Cosine,
    Pearson,
}

impl Similarity {
    pub const ALL: [Similarity; 3] = [Self::Euclidean, Self::Cosine, Self::Pearson];

    pub fn name(self) -> &'static str {
        match self {
            Self::Euclidean => "euclidean",
            Self::Cosine => "cosine",
            Self::Pearson => "pearson",
        }
    }
}

impl FromStr for Similarity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|sim| sim.name() == s)
            .ok_or_else(|| format!("unknown similarity {s:?}: euclidean, cosine or pearson"))
    }
}

/// Each row's neighbours: (row, similarity), best first.
pub type Neighbours = Vec<Vec<(u32, f32)>>;

/// Some rows' neighbour lists, as a thread computed them.
type RowLists = Vec<(usize, Vec<(u32, f32)>)>;

/// A sparse vector: (index, value) sorted by index.
pub type Sparse<'a> = &'a [(u32, f32)];

/// Euclidean similarity `1 / (1 + d)` over co-rated entries; 0 when none are shared.
pub fn euclidean(a: Sparse, b: Sparse) -> f32 {
    let pairs = co_rated(a, b);
    if pairs.is_empty() {
        return 0.0;
    }
    let d2: f32 = pairs.iter().map(|(x, y)| (x - y) * (x - y)).sum();
    1.0 / (1.0 + d2.sqrt())
}

/// Cosine of the whole vectors.
pub fn cosine(a: Sparse, b: Sparse) -> f32 {
    let dot: f32 = co_rated(a, b).iter().map(|(x, y)| x * y).sum();
    let norm = |v: Sparse| v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
    let denominator = norm(a) * norm(b);
    if denominator == 0.0 {
        0.0
    } else {
        dot / denominator
    }
}

/// Pearson correlation of two vectors of residuals over co-rated entries, shrunk.
pub fn pearson(a: Sparse, b: Sparse) -> f32 {
    let pairs = co_rated(a, b);
    let (xy, xx, yy) = pairs.iter().fold((0.0, 0.0, 0.0), |(xy, xx, yy), (x, y)| {
        (xy + x * y, xx + x * x, yy + y * y)
    });
    shrunk_pearson(pairs.len() as u32, xy, xx, yy)
}

fn shrunk_pearson(n: u32, xy: f32, xx: f32, yy: f32) -> f32 {
    if n < 2 || xx <= 0.0 || yy <= 0.0 {
        return 0.0;
    }
    let shrink = (n - 1) as f32 / ((n - 1) as f32 + PEARSON_SHRINKAGE);
    xy / (xx * yy).sqrt() * shrink
}

fn co_rated(a: Sparse, b: Sparse) -> Vec<(f32, f32)> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push((a[i].1, b[j].1));
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// The rows to compare and how to centre their values for Pearson.
pub struct Side<'a> {
    /// The vectors to compare, one per row (e.g. items, each holding its raters).
    pub rows: &'a Csr,
    /// The same entries indexed the other way (e.g. users, each holding their items).
    pub cols: &'a Csr,
    /// Baseline of entry (row, col) = `mean + row_bias[row] + col_bias[col]`.
    pub mean: f32,
    pub row_bias: &'a [f32],
    pub col_bias: &'a [f32],
}

/// For every row, its `k` most similar other rows with positive similarity, best first
/// (ties: lower index first).
pub fn neighbours(side: &Side<'_>, similarity: Similarity, k: usize) -> Neighbours {
    neighbours_of(side, similarity, k, None)
}

/// [`neighbours`] for the rows `only` marks (all without it); the other rows get none.
/// Each row's list depends on nothing but the data, so a marked row's list is the same
/// either way.
pub fn neighbours_of(
    side: &Side<'_>,
    similarity: Similarity,
    k: usize,
    only: Option<&[bool]>,
) -> Neighbours {
    let n = side.rows.rows();
    let wanted = |row: usize| only.is_none_or(|only| only.get(row).copied().unwrap_or(false));
    let norms: Vec<f32> = (0..n)
        .map(|r| side.rows.row(r).1.iter().map(|x| x * x).sum::<f32>().sqrt())
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .clamp(1, 8);
    let mut result: Neighbours = vec![Vec::new(); n];
    let parts: Vec<RowLists> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let norms = &norms;
                scope.spawn(move || {
                    let mut sweep = Sweep::new(n);
                    (t..n)
                        .step_by(threads)
                        .filter(|row| wanted(*row))
                        .map(|row| (row, sweep.row(side, similarity, norms, row, k)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (row, list) in parts.into_iter().flatten() {
        result[row] = list;
    }
    result
}

#[derive(Clone, Copy, Default)]
struct Acc {
    n: u32,
    s1: f32,
    s2: f32,
    s3: f32,
}

/// Per-thread scratch space: one accumulator per row, and which ones were touched.
struct Sweep {
    acc: Vec<Acc>,
    touched: Vec<u32>,
}

impl Sweep {
    fn new(n: usize) -> Self {
        Self {
            acc: vec![Acc::default(); n],
            touched: Vec::new(),
        }
    }

    fn row(
        &mut self,
        side: &Side<'_>,
        similarity: Similarity,
        norms: &[f32],
        a: usize,
        k: usize,
    ) -> Vec<(u32, f32)> {
        let base =
            |row: usize, col: u32| side.mean + side.row_bias[row] + side.col_bias[col as usize];
        let (cols, values) = side.rows.row(a);
        for (&c, &xa) in cols.iter().zip(values) {
            let ea = xa - base(a, c);
            let (others, other_values) = side.cols.row(c as usize);
            for (&b, &xb) in others.iter().zip(other_values) {
                if b as usize == a {
                    continue;
                }
                let acc = &mut self.acc[b as usize];
                if acc.n == 0 {
                    self.touched.push(b);
                }
                acc.n += 1;
                match similarity {
                    Similarity::Cosine => acc.s1 += xa * xb,
                    Similarity::Euclidean => acc.s1 += (xa - xb) * (xa - xb),
                    Similarity::Pearson => {
                        let eb = xb - base(b as usize, c);
                        acc.s1 += ea * eb;
                        acc.s2 += ea * ea;
                        acc.s3 += eb * eb;
                    }
                }
            }
        }
        let mut list: Vec<(u32, f32)> = Vec::with_capacity(self.touched.len());
        for b in self.touched.drain(..) {
            let acc = std::mem::take(&mut self.acc[b as usize]);
            let sim = match similarity {
                Similarity::Cosine => {
                    let d = norms[a] * norms[b as usize];
                    if d > 0.0 { acc.s1 / d } else { 0.0 }
                }
                Similarity::Euclidean => 1.0 / (1.0 + acc.s1.sqrt()),
                Similarity::Pearson => shrunk_pearson(acc.n, acc.s1, acc.s2, acc.s3),
            };
            if sim > 0.0 && sim.is_finite() {
                list.push((b, sim));
            }
        }
        top_k(&mut list, k);
        list
    }
}

/// Keeps the `k` largest by score, sorted best first, ties by lower index.
pub fn top_k(list: &mut Vec<(u32, f32)>, k: usize) {
    let better = |x: &(u32, f32), y: &(u32, f32)| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0));
    if list.len() > k && k > 0 {
        list.select_nth_unstable_by(k - 1, better);
        list.truncate(k);
    }
    list.sort_unstable_by(better);
    if k == 0 {
        list.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-5
    }

    #[test]
    fn euclidean_matches_hand_computed_values() {
        // Co-rated: items 1 and 2; d = sqrt(1² + 2²) = sqrt(5).
        let a = [(1, 3.0), (2, 4.0), (5, 1.0)];
        let b = [(1, 2.0), (2, 2.0), (7, 5.0)];
        assert!(close(euclidean(&a, &b), 1.0 / (1.0 + 5f32.sqrt())));
        assert!(close(euclidean(&a, &a), 1.0));
        assert_eq!(euclidean(&a, &[(9, 4.0)]), 0.0, "nothing co-rated");
    }

    #[test]
    fn cosine_matches_hand_computed_values() {
        // dot = 3·2 + 4·2 = 14; |a| = sqrt(9+16+1) = sqrt(26); |b| = sqrt(4+4+25) = sqrt(33).
        let a = [(1, 3.0), (2, 4.0), (5, 1.0)];
        let b = [(1, 2.0), (2, 2.0), (7, 5.0)];
        assert!(close(cosine(&a, &b), 14.0 / (26f32.sqrt() * 33f32.sqrt())));
        assert!(close(cosine(&a, &a), 1.0));
        assert_eq!(cosine(&a, &[]), 0.0);
    }

    #[test]
    fn pearson_matches_hand_computed_values_with_shrinkage() {
        // Residuals x = (1, -1, 2), y = (2, -2, 1): xy = 2+2+2 = 6, xx = 6, yy = 9.
        let a = [(1, 1.0), (2, -1.0), (3, 2.0)];
        let b = [(1, 2.0), (2, -2.0), (3, 1.0)];
        let raw = 6.0 / (6f32 * 9.0).sqrt();
        assert!(close(pearson(&a, &b), raw * 2.0 / 102.0));
        assert_eq!(
            pearson(&a[..1], &b[..1]),
            0.0,
            "one co-rated entry says nothing"
        );
    }

    #[test]
    fn the_sweep_agrees_with_the_pairwise_functions() {
        use crate::recommend::matrix::{Matrix, Rating};
        let raw = [
            (1, 1, 5.0),
            (1, 2, 3.0),
            (1, 3, 4.0),
            (2, 1, 3.0),
            (2, 2, 1.0),
            (2, 3, 2.0),
            (2, 4, 3.0),
            (3, 1, 4.0),
            (3, 2, 3.0),
            (3, 4, 5.0),
            (4, 3, 1.0),
            (4, 4, 5.0),
        ];
        let ratings: Vec<Rating> = raw
            .iter()
            .map(|&(user, item, value)| Rating { user, item, value })
            .collect();
        let m = Matrix::new(&ratings);
        let zeros_u = vec![0.0; m.users()];
        let zeros_i = vec![0.0; m.items()];
        let side = Side {
            rows: &m.by_item,
            cols: &m.by_user,
            mean: 0.0,
            row_bias: &zeros_i,
            col_bias: &zeros_u,
        };
        let vector = |i: usize| -> Vec<(u32, f32)> {
            let (c, v) = m.by_item.row(i);
            c.iter().copied().zip(v.iter().copied()).collect()
        };
        for similarity in Similarity::ALL {
            let lists = neighbours(&side, similarity, 10);
            for (a, list) in lists.iter().enumerate() {
                for b in 0..m.items() {
                    if a == b {
                        continue;
                    }
                    let expected = match similarity {
                        Similarity::Euclidean => euclidean(&vector(a), &vector(b)),
                        Similarity::Cosine => cosine(&vector(a), &vector(b)),
                        Similarity::Pearson => pearson(&vector(a), &vector(b)),
                    };
                    let got = list
                        .iter()
                        .find(|(n, _)| *n as usize == b)
                        .map_or(0.0, |(_, s)| *s);
                    let expected = if expected > 0.0 { expected } else { 0.0 };
                    assert!(
                        close(got, expected),
                        "{similarity:?} {a} {b}: {got} vs {expected}"
                    );
                }
            }
        }
    }

    #[test]
    fn top_k_keeps_the_best_and_breaks_ties_by_lower_index() {
        let mut list = vec![(5, 0.5), (2, 0.9), (3, 0.5), (1, 0.1)];
        top_k(&mut list, 3);
        assert_eq!(list, vec![(2, 0.9), (3, 0.5), (5, 0.5)]);
    }
}
