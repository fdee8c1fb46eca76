//! A fitted model: rating prediction and top-N ranking, kept apart on purpose.
//!
//! Prediction answers "what would this user rate this item": the baseline plus the
//! similarity-weighted residuals of the `k` nearest neighbours that have a rating for it
//! (a normalised average). Ranking answers "which items should this user see": the
//! un-normalised sum of similarity × preference over the user's items (item-based) or the
//! user's neighbours (user-based), so an item backed by many strong neighbours outranks an
//! obscure one that a single neighbour rated 5 — ranking by predicted rating pushes exactly
//! those obscure items to the top.

use std::collections::HashSet;
use std::str::FromStr;

use super::baseline::Baselines;
use super::blend::{self, Weights};
use super::ease::{self, Ease, ItemWeights};
use super::factors::{self, Factors};
use super::matrix::{Matrix, Rating};
use super::rp3::{self, Walk};
use super::similarity::{self, Neighbours, Side, Similarity};
use super::{auto, evaluate};

/// Neighbours kept per row.
const STORED_NEIGHBOURS: usize = 200;
/// Neighbours used for a rating prediction (those that rated the item).
const PREDICTION_NEIGHBOURS: usize = 40;
/// Neighbours used for ranking.
const RANKING_NEIGHBOURS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    User,
    Item,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Most rated first; predicts nothing.
    Popular,
    /// Global mean + user and item biases; ranks by that prediction.
    Baseline,
    /// The original platform's algorithm: user-based, Euclidean `1/(1+d)`, the predicted
    /// rating is the similarity-weighted mean of the neighbours' ratings, ranked by it.
    Original,
    /// Neighbourhood model with baselines (prediction) and neighbourhood sums (ranking).
    Knn {
        direction: Direction,
        similarity: Similarity,
    },
    /// The closed-form item-item model ([`ease`]); ranks only. Catalogs over
    /// [`ease::MAX_ITEMS`] rank by item-cosine neighbours instead.
    Ease,
    /// Biased matrix factorisation ([`factors`]): predicts, and ranks by prediction.
    Factors,
    /// user-cosine's, item-cosine's, the baseline's and mf's predictions stacked, with
    /// weights learned on the training data's held-out slice ([`blend`]); ranks as
    /// user-cosine.
    Blend,
    /// EASE's and user-cosine's list scores, each divided by the user's best, mixed by
    /// a share learned on the training data's held-out slice ([`MIX_SHARES`]); ranks
    /// only.
    Mix,
    /// RP3beta, a random walk from a user's items with popular destinations penalised
    /// by a β learned on the training data's held-out slice ([`rp3`]); ranks only.
    /// Catalogs over [`ease::MAX_ITEMS`] rank by item-cosine neighbours instead.
    Rp3,
}

/// EASE's shares of `mix`'s scores that its fit tries on the held-out slice; the best
/// precision@10 there wins (the first on a tie). Without a time order: [`MIX_SHARE`].
pub const MIX_SHARES: [f32; 4] = [0.3, 0.5, 0.7, 0.85];
pub const MIX_SHARE: f32 = 0.5;

/// When blend's or mix's held-out slice is under this share of the training data (the
/// slice of [`auto::SAMPLE_USERS`] users of a large data set), the fit on everything
/// reuses the parts the held-out fit made that need every user's data (blend's
/// item-cosine neighbours, mix's EASE weights) instead of fitting them again: they were
/// fitted on 95 % or more of the same data, and a fit of each part once is what keeps
/// the 1M shape within 15 s. Above it (a small data set) they are fitted again.
pub const REUSE_BELOW: f64 = 0.05;

/// What a fit learned on the training data's held-out slice, or the defaults without one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Learned {
    pub blend: Weights,
    /// EASE's share of mix.
    pub mix: f32,
    /// RP3beta's popularity penalty.
    pub beta: f32,
}

impl Learned {
    pub const DEFAULT: Learned = Learned {
        blend: Weights::FIXED,
        mix: MIX_SHARE,
        beta: rp3::BETA,
    };
}

impl Strategy {
    /// Every strategy `eval` compares, in report order.
    pub fn all() -> Vec<Strategy> {
        let mut all = vec![Self::Popular, Self::Baseline, Self::Original];
        for direction in [Direction::User, Direction::Item] {
            for similarity in Similarity::ALL {
                all.push(Self::Knn {
                    direction,
                    similarity,
                });
            }
        }
        all.push(Self::Ease);
        all.push(Self::Factors);
        all.push(Self::Blend);
        all.push(Self::Mix);
        all.push(Self::Rp3);
        all
    }

    pub fn name(&self) -> String {
        match self {
            Self::Popular => "popular".into(),
            Self::Baseline => "baseline".into(),
            Self::Original => "original".into(),
            Self::Ease => "ease".into(),
            Self::Factors => "mf".into(),
            Self::Blend => "blend".into(),
            Self::Mix => "mix".into(),
            Self::Rp3 => "rp3".into(),
            Self::Knn {
                direction,
                similarity,
            } => {
                let side = match direction {
                    Direction::User => "user",
                    Direction::Item => "item",
                };
                format!("{side}-{}", similarity.name())
            }
        }
    }

    pub fn predicts(&self) -> bool {
        !matches!(self, Self::Popular | Self::Ease | Self::Mix | Self::Rp3)
    }
}

impl FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::all()
            .into_iter()
            .find(|strategy| strategy.name() == s)
            .ok_or_else(|| {
                let names: Vec<String> = Self::all().iter().map(Strategy::name).collect();
                format!("unknown strategy {s:?}; one of {}", names.join(", "))
            })
    }
}

/// One ranked item: its index, score, and the profile item (item-based) or neighbour
/// user (user-based) that contributed most.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub item: u32,
    pub score: f32,
    pub because: Option<Because>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Because {
    /// This item of the user's profile is most similar.
    Item(u32),
    /// Users with similar tastes liked it.
    Neighbours,
}

/// What a user has rated or otherwise shown interest in: (item index, preference 1–5).
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    pub user: Option<u32>,
    pub items: &'a [(u32, f32)],
}

pub struct Model {
    pub strategy: Strategy,
    pub matrix: Matrix,
    pub baselines: Baselines,
    /// Users' neighbours (user-based) or items' neighbours (item-based), best first.
    neighbours: Neighbours,
    /// Entries per item.
    popularity: Vec<f32>,
    /// The fitted EASE weights (`Ease`, `Mix`) or RP3beta's (`Rp3`), on a catalog they
    /// can fit.
    weights: Option<ItemWeights>,
    /// The fitted factors (strategies `Factors` and `Blend`).
    factors: Option<Factors>,
    /// blend's item-cosine part.
    blend: Option<Box<Model>>,
    /// blend's weights, mix's share and RP3beta's β as this fit learned them.
    pub learned: Learned,
}

impl Model {
    /// Fits `strategy` on `ratings`, oldest first (blend, mix and rp3 learn what they
    /// learn from the most recent ones).
    pub fn fit(ratings: &[Rating], strategy: Strategy) -> Self {
        match strategy {
            Strategy::Blend => blend::fit(ratings),
            Strategy::Mix => fit_mix(ratings),
            Strategy::Rp3 => {
                let beta = rp3::learn(ratings).map_or(rp3::BETA, |(beta, _)| beta);
                let learned = Learned {
                    beta,
                    ..Learned::DEFAULT
                };
                Self::fit_learned(Matrix::new(ratings), strategy, learned)
            }
            _ => Self::fit_matrix(Matrix::new(ratings), strategy),
        }
    }

    /// Fits `strategy` on `matrix`; without the time order to learn from, blend, mix and
    /// rp3 take [`Learned::DEFAULT`].
    pub fn fit_matrix(matrix: Matrix, strategy: Strategy) -> Self {
        Self::fit_learned(matrix, strategy, Learned::DEFAULT)
    }

    pub(crate) fn fit_weighted(matrix: Matrix, strategy: Strategy, weights: Weights) -> Self {
        let learned = Learned {
            blend: weights,
            ..Learned::DEFAULT
        };
        Self::fit_learned(matrix, strategy, learned)
    }

    pub(crate) fn fit_learned(matrix: Matrix, strategy: Strategy, learned: Learned) -> Self {
        Self::fit_for(matrix, strategy, learned, None)
    }

    /// Fits `strategy` on `ratings` to rank for `users` alone: a user-based model finds
    /// neighbours for them only (their lists are the same as [`Model::fit`]'s, at a
    /// fraction of the fit: `auto` scores up to 1,000 of 6,040 users at the 1M shape);
    /// the other strategies fit as usual.
    pub fn fit_to_rank(ratings: &[Rating], strategy: Strategy, users: &HashSet<i64>) -> Self {
        let matrix = Matrix::new(ratings);
        let only: Vec<bool> = matrix
            .user_ids
            .iter()
            .map(|user| users.contains(user))
            .collect();
        match strategy {
            Strategy::Knn {
                direction: Direction::User,
                ..
            } => Self::fit_for(matrix, strategy, Learned::DEFAULT, Some(&only)),
            _ => Self::fit(ratings, strategy),
        }
    }

    /// Fits `strategy` on `matrix`; a user-based part finds neighbours only for the
    /// users `only` marks (all without it).
    pub(crate) fn fit_for(
        matrix: Matrix,
        strategy: Strategy,
        learned: Learned,
        only: Option<&[bool]>,
    ) -> Self {
        let baselines = Baselines::fit(&matrix);
        let weights = match strategy {
            Strategy::Ease | Strategy::Mix => Ease::fit(&matrix, ease::LAMBDA),
            Strategy::Rp3 => Walk::fit(&matrix).map(|walk| walk.weights(learned.beta)),
            _ => None,
        };
        let factors = matches!(strategy, Strategy::Factors | Strategy::Blend).then(|| {
            Factors::fit(
                &matrix,
                &baselines,
                factors::REGULARISATION,
                factors::FACTORS,
            )
        });
        let neighbours = match strategy {
            Strategy::Popular | Strategy::Baseline | Strategy::Factors => Vec::new(),
            Strategy::Ease | Strategy::Rp3 if weights.is_some() => Vec::new(),
            Strategy::Original => user_neighbours(&matrix, &baselines, Similarity::Euclidean, None),
            Strategy::Blend | Strategy::Mix => {
                user_neighbours(&matrix, &baselines, Similarity::Cosine, only)
            }
            Strategy::Knn {
                direction: Direction::User,
                similarity,
            } => user_neighbours(&matrix, &baselines, similarity, only),
            Strategy::Ease | Strategy::Rp3 => {
                item_neighbours(&matrix, &baselines, Similarity::Cosine)
            }
            Strategy::Knn {
                direction: Direction::Item,
                similarity,
            } => item_neighbours(&matrix, &baselines, similarity),
        };
        let blend = (strategy == Strategy::Blend)
            .then(|| Box::new(Self::fit_matrix(matrix.clone(), ITEM_COSINE)));
        Self::assemble(
            strategy, matrix, baselines, neighbours, weights, factors, blend, learned,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        strategy: Strategy,
        matrix: Matrix,
        baselines: Baselines,
        neighbours: Neighbours,
        weights: Option<ItemWeights>,
        factors: Option<Factors>,
        blend: Option<Box<Model>>,
        learned: Learned,
    ) -> Self {
        let popularity = (0..matrix.items())
            .map(|i| matrix.by_item.len(i) as f32)
            .collect();
        Self {
            strategy,
            matrix,
            baselines,
            neighbours,
            popularity,
            weights,
            factors,
            blend,
            learned,
        }
    }

    /// blend on `matrix` (everything) with the weights `parts` learned, `parts` being the
    /// blend fitted on the held-out slice's rest with the same numbering: mf starts
    /// from its factors ([`Factors::refit`]) and, when `reuse`, its item-cosine part is
    /// kept as it is (see [`REUSE_BELOW`]).
    pub(crate) fn refit_blend(matrix: Matrix, weights: Weights, parts: Model, reuse: bool) -> Self {
        let baselines = Baselines::fit(&matrix);
        let factors = parts
            .factors
            .as_ref()
            .map(|start| Factors::refit(&matrix, &baselines, factors::REGULARISATION, start));
        let item = match parts.blend {
            Some(item) if reuse => Box::new(Self::assemble(
                ITEM_COSINE,
                matrix.clone(),
                baselines.clone(),
                item.neighbours,
                None,
                None,
                None,
                Learned::DEFAULT,
            )),
            _ => Box::new(Self::fit_matrix(matrix.clone(), ITEM_COSINE)),
        };
        let neighbours = user_neighbours(&matrix, &baselines, Similarity::Cosine, None);
        let learned = Learned {
            blend: weights,
            ..Learned::DEFAULT
        };
        Self::assemble(
            Strategy::Blend,
            matrix,
            baselines,
            neighbours,
            None,
            factors,
            Some(item),
            learned,
        )
    }

    /// The stored neighbours of a user (user-based) or item (item-based) index.
    pub fn neighbours(&self, index: u32) -> &[(u32, f32)] {
        self.neighbours
            .get(index as usize)
            .map_or(&[][..], Vec::as_slice)
    }

    pub fn popularity(&self, item: u32) -> f32 {
        self.popularity[item as usize]
    }

    /// The predicted rating of `user` for `item` (ids), within 1–5; `None` for a
    /// strategy that does not predict.
    pub fn predict(&self, user: i64, item: i64) -> Option<f32> {
        if !self.strategy.predicts() {
            return None;
        }
        if self.blend.is_some() {
            let parts = self.blend_parts(user, item)?;
            return Some(self.learned.blend.apply(parts).clamp(1.0, 5.0));
        }
        let (u, i) = (self.matrix.user(user), self.matrix.item(item));
        if let Some(factors) = &self.factors {
            return Some(factors.predict(u, i).clamp(1.0, 5.0));
        }
        let base = self.baselines.predict(u, i);
        let knn = match (self.strategy, u, i) {
            (Strategy::Original, Some(u), Some(i)) => self.neighbour_mean(u, i),
            (Strategy::Knn { direction, .. }, Some(u), Some(i)) => {
                self.residual_average(direction, u, i).map(|r| base + r)
            }
            _ => None,
        };
        Some(knn.unwrap_or(base).clamp(1.0, 5.0))
    }

    /// blend's parts for (user, item) ids: user-cosine's, item-cosine's, the baseline's
    /// and mf's predictions, each within 1–5 (`None` unless this is a blend).
    pub fn blend_parts(&self, user: i64, item: i64) -> Option<[f32; blend::PARTS]> {
        let item_part = self.blend.as_ref()?;
        let factors = self.factors.as_ref()?;
        let (u, i) = (self.matrix.user(user), self.matrix.item(item));
        let base = self.baselines.predict(u, i);
        let residual = match (u, i) {
            (Some(u), Some(i)) => self.residual_average(Direction::User, u, i),
            _ => None,
        };
        Some([
            (base + residual.unwrap_or(0.0)).clamp(1.0, 5.0),
            item_part.predict(user, item)?,
            base.clamp(1.0, 5.0),
            factors.predict(u, i).clamp(1.0, 5.0),
        ])
    }

    /// Similarity-weighted mean of the neighbours' ratings of `i` (the original).
    fn neighbour_mean(&self, u: u32, i: u32) -> Option<f32> {
        let (mut num, mut den) = (0.0, 0.0);
        for (v, s) in self
            .neighbours(u)
            .iter()
            .filter_map(|&(v, s)| self.matrix.by_item.get(i as usize, v).map(|r| (r, s)))
            .take(PREDICTION_NEIGHBOURS)
        {
            num += s * v;
            den += s;
        }
        (den > 0.0).then(|| num / den)
    }

    /// Similarity-weighted average residual of the nearest neighbours that rated it.
    fn residual_average(&self, direction: Direction, u: u32, i: u32) -> Option<f32> {
        let (mut num, mut den) = (0.0, 0.0);
        let b = &self.baselines;
        let residual = |user: u32, item: u32, r: f32| r - b.predict(Some(user), Some(item));
        let found: Box<dyn Iterator<Item = (f32, f32)>> = match direction {
            Direction::Item => Box::new(self.neighbours(i).iter().filter_map(move |&(j, s)| {
                self.matrix
                    .by_user
                    .get(u as usize, j)
                    .map(|r| (residual(u, j, r), s))
            })),
            Direction::User => Box::new(self.neighbours(u).iter().filter_map(move |&(v, s)| {
                self.matrix
                    .by_item
                    .get(i as usize, v)
                    .map(|r| (residual(v, i, r), s))
            })),
        };
        for (r, s) in found.take(PREDICTION_NEIGHBOURS) {
            num += s * r;
            den += s;
        }
        (den > 0.0).then(|| num / den)
    }

    /// The best `n` items for `profile` by this strategy's ranking, skipping the profile's
    /// items and any `exclude` refuses; ties go to the lower index (the lower id).
    pub fn top_n(
        &self,
        profile: Profile<'_>,
        n: usize,
        exclude: impl Fn(u32) -> bool,
    ) -> Vec<Scored> {
        let items = self.matrix.items();
        let mut score = vec![f32::NAN; items];
        let mut because: Vec<Option<Because>> = vec![None; items];
        self.score_all(profile, &mut score, &mut because);
        for &(i, _) in profile.items {
            if let Some(s) = score.get_mut(i as usize) {
                *s = f32::NAN;
            }
        }
        let mut ranked: Vec<(u32, f32)> = score
            .iter()
            .enumerate()
            .filter(|(i, s)| !s.is_nan() && !exclude(*i as u32))
            .map(|(i, s)| (i as u32, *s))
            .collect();
        similarity::top_k(&mut ranked, n);
        // EASE (for mix too) and RP3beta name their reason where they score, asked only
        // for the listed.
        let ease = self
            .weights
            .as_ref()
            .filter(|_| !profile.items.is_empty())
            .filter(|_| {
                matches!(
                    self.strategy,
                    Strategy::Ease | Strategy::Mix | Strategy::Rp3
                )
            });
        ranked
            .into_iter()
            .map(|(item, score)| Scored {
                item,
                score,
                because: match ease {
                    Some(ease) => ease.because(profile.items, item),
                    None => because[item as usize],
                },
            })
            .collect()
    }

    /// Fills `score` (NaN = no score) for every item.
    #[cfg(test)]
    pub(crate) fn scores(&self, profile: Profile<'_>, score: &mut [f32]) {
        let mut because = vec![None; score.len()];
        score.fill(f32::NAN);
        self.score_all(profile, score, &mut because);
    }

    /// Fills `score` (NaN = no score) for every item.
    fn score_all(&self, profile: Profile<'_>, score: &mut [f32], because: &mut [Option<Because>]) {
        if self.strategy == Strategy::Mix {
            return self.mix_scores(profile, score, because);
        }
        if let Some(weights) = &self.weights {
            return weights.score(profile.items, score);
        }
        match self.strategy {
            Strategy::Popular => score.copy_from_slice(&self.popularity),
            Strategy::Baseline => {
                for (i, s) in score.iter_mut().enumerate() {
                    *s = self.baselines.predict(profile.user, Some(i as u32));
                }
            }
            Strategy::Factors => {
                if let Some(factors) = &self.factors {
                    for (i, s) in score.iter_mut().enumerate() {
                        *s = factors.predict(profile.user, Some(i as u32));
                    }
                }
            }
            Strategy::Original => {
                let Some(u) = profile.user else { return };
                let mut den = vec![0f32; score.len()];
                for &(v, s) in self.neighbours(u).iter().take(PREDICTION_NEIGHBOURS) {
                    let (items, values) = self.matrix.by_user.row(v as usize);
                    for (&i, &r) in items.iter().zip(values) {
                        let slot = &mut score[i as usize];
                        *slot = if slot.is_nan() { s * r } else { *slot + s * r };
                        den[i as usize] += s;
                        because[i as usize] = Some(Because::Neighbours);
                    }
                }
                for (s, d) in score.iter_mut().zip(den) {
                    if d > 0.0 {
                        *s /= d;
                    }
                }
            }
            // Without fitted weights (too large a catalog) EASE and RP3beta rank as
            // item-cosine.
            Strategy::Ease
            | Strategy::Rp3
            | Strategy::Knn {
                direction: Direction::Item,
                ..
            } => {
                let mut best = vec![0f32; score.len()];
                for &(j, w) in profile.items {
                    for &(i, s) in self.neighbours(j).iter().take(RANKING_NEIGHBOURS) {
                        let contribution = s * w;
                        let slot = &mut score[i as usize];
                        *slot = if slot.is_nan() {
                            contribution
                        } else {
                            *slot + contribution
                        };
                        if contribution > best[i as usize] {
                            best[i as usize] = contribution;
                            because[i as usize] = Some(Because::Item(j));
                        }
                    }
                }
            }
            Strategy::Blend
            | Strategy::Mix
            | Strategy::Knn {
                direction: Direction::User,
                ..
            } => self.user_scores(profile, score, because),
        }
    }

    /// Sums of neighbour similarity × preference (user-based ranking).
    fn user_scores(
        &self,
        profile: Profile<'_>,
        score: &mut [f32],
        because: &mut [Option<Because>],
    ) {
        let Some(u) = profile.user else { return };
        for &(v, s) in self.neighbours(u).iter().take(RANKING_NEIGHBOURS) {
            let (items, values) = self.matrix.by_user.row(v as usize);
            for (&i, &w) in items.iter().zip(values) {
                let slot = &mut score[i as usize];
                *slot = if slot.is_nan() { s * w } else { *slot + s * w };
                because[i as usize] = Some(Because::Neighbours);
            }
        }
    }

    /// mix: EASE's and the user neighbours' scores mixed by EASE's share
    /// ([`mix_parts`](Self::mix_parts), [`mix_of`]).
    fn mix_scores(&self, profile: Profile<'_>, score: &mut [f32], because: &mut [Option<Because>]) {
        let (ease, users) = self.mix_parts(profile, because);
        mix_of(self.learned.mix, &ease, &users, score);
    }

    /// mix's two parts for `profile`: EASE's and the user neighbours' scores, each over
    /// the user's best (their scales differ by orders of magnitude); NaN where a part
    /// does not score.
    fn mix_parts(
        &self,
        profile: Profile<'_>,
        because: &mut [Option<Because>],
    ) -> (Vec<f32>, Vec<f32>) {
        let mut users = vec![f32::NAN; self.matrix.items()];
        self.user_scores(profile, &mut users, because);
        let mut ease = vec![f32::NAN; self.matrix.items()];
        if let Some(weights) = &self.weights {
            weights.score(profile.items, &mut ease);
        }
        for part in [&mut ease, &mut users] {
            let max = part
                .iter()
                .copied()
                .filter(|s| !s.is_nan())
                .fold(0.0, f32::max);
            let best = if max > 0.0 { max } else { 1.0 };
            part.iter_mut().for_each(|s| *s /= best);
        }
        (ease, users)
    }
}

/// mix's scores: `share` of EASE's plus the rest of the user neighbours'. An item
/// neither part scores stays unscored.
fn mix_of(share: f32, ease: &[f32], users: &[f32], score: &mut [f32]) {
    for ((s, e), u) in score.iter_mut().zip(ease).zip(users) {
        *s = match (e.is_nan(), u.is_nan()) {
            (true, true) => f32::NAN,
            (true, false) => (1.0 - share) * u,
            (false, true) => share * e,
            (false, false) => share * e + (1.0 - share) * u,
        };
    }
}

/// mix fitted on `train` (oldest first), each part once where the data is large: EASE's
/// share is the best of [`MIX_SHARES`] by precision@10 on the held-out slice of up to
/// [`auto::SAMPLE_USERS`] users (the first on a tie), with EASE and the held-out users'
/// neighbours fitted on the rest and each user's two parts computed once for every
/// share; then the user neighbours are fitted on everything, and EASE too unless the
/// slice is small enough to keep it ([`REUSE_BELOW`]).
fn fit_mix(train: &[Rating]) -> Model {
    let (fit, held_out) = auto::hold_out_recent(train, Some(auto::SAMPLE_USERS));
    let matrix = Matrix::new(train);
    let rest = Matrix::numbered_as(&fit, &matrix);
    let scored = scored_users(&rest, &held_out);
    let parts = Model::fit_for(rest, Strategy::Mix, Learned::DEFAULT, Some(&scored));
    let precision = evaluate::variant_precision(
        &parts.matrix,
        &held_out,
        MIX_SHARES.len(),
        |profile| parts.mix_parts(profile, &mut vec![None; parts.matrix.items()]),
        |(ease, users), k, score| mix_of(MIX_SHARES[k], ease, users, score),
    );
    let mix = precision.map_or(MIX_SHARE, |precision| {
        let best = (0..MIX_SHARES.len()).fold(0, |best, k| {
            if precision[k] > precision[best] {
                k
            } else {
                best
            }
        });
        MIX_SHARES[best]
    });
    let learned = Learned {
        mix,
        ..Learned::DEFAULT
    };
    if held_out_share(&held_out, train) < REUSE_BELOW {
        let baselines = Baselines::fit(&matrix);
        let neighbours = user_neighbours(&matrix, &baselines, Similarity::Cosine, None);
        return Model::assemble(
            Strategy::Mix,
            matrix,
            baselines,
            neighbours,
            parts.weights,
            None,
            None,
            learned,
        );
    }
    Model::fit_learned(matrix, Strategy::Mix, learned)
}

/// The held-out slice's share of the training data.
pub(crate) fn held_out_share(held_out: &[Rating], train: &[Rating]) -> f64 {
    held_out.len() as f64 / train.len().max(1) as f64
}

/// Marks the users of `matrix` who hold something out: the ones a held-out fit ranks or
/// predicts for.
pub(crate) fn scored_users(matrix: &Matrix, held_out: &[Rating]) -> Vec<bool> {
    let mut marked = vec![false; matrix.users()];
    for r in held_out {
        if let Some(u) = matrix.user(r.user) {
            marked[u as usize] = true;
        }
    }
    marked
}

const ITEM_COSINE: Strategy = Strategy::Knn {
    direction: Direction::Item,
    similarity: Similarity::Cosine,
};

#[cfg(test)]
const USER_COSINE: Strategy = Strategy::Knn {
    direction: Direction::User,
    similarity: Similarity::Cosine,
};

fn item_neighbours(m: &Matrix, b: &Baselines, similarity: Similarity) -> Neighbours {
    similarity::neighbours(
        &Side {
            rows: &m.by_item,
            cols: &m.by_user,
            mean: b.mean,
            row_bias: &b.item_bias,
            col_bias: &b.user_bias,
        },
        similarity,
        STORED_NEIGHBOURS,
    )
}

fn user_neighbours(
    m: &Matrix,
    b: &Baselines,
    similarity: Similarity,
    only: Option<&[bool]>,
) -> Neighbours {
    similarity::neighbours_of(
        &Side {
            rows: &m.by_user,
            cols: &m.by_item,
            mean: b.mean,
            row_bias: &b.user_bias,
            col_bias: &b.item_bias,
        },
        similarity,
        STORED_NEIGHBOURS,
        only,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The original platform's example (`fixtures/phone.txt`), with phone names
    /// numbered in order of first appearance.
    fn phones() -> (Vec<Rating>, Vec<String>) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/phone.txt");
        let text = std::fs::read_to_string(path).expect("the phone fixture");
        let mut names: Vec<String> = Vec::new();
        let mut ratings = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let fields: Vec<&str> = line.split(',').collect();
            let name = fields[1].to_owned();
            let item = match names.iter().position(|n| *n == name) {
                Some(k) => k,
                None => {
                    names.push(name);
                    names.len() - 1
                }
            };
            ratings.push(Rating {
                user: fields[0].parse().unwrap(),
                item: item as i64 + 1,
                value: fields[2].parse().unwrap(),
            });
        }
        (ratings, names)
    }

    #[test]
    fn the_original_example_finds_user_2_nearest_and_recommends_vivo_then_htc() {
        let (ratings, names) = phones();
        let model = Model::fit(&ratings, Strategy::Original);
        let user1 = model.matrix.user(1).unwrap();
        let user2 = model.matrix.user(2).unwrap();
        assert_eq!(
            model.neighbours(user1),
            &[(user2, 0.5)],
            "user 3 shares nothing: 0"
        );

        let row: Vec<(u32, f32)> = {
            let (items, values) = model.matrix.by_user.row(user1 as usize);
            items.iter().copied().zip(values.iter().copied()).collect()
        };
        let profile = Profile {
            user: Some(user1),
            items: &row,
        };
        let top: Vec<(String, f32)> = model
            .top_n(profile, 10, |_| false)
            .into_iter()
            .map(|s| {
                let id = model.matrix.item_ids[s.item as usize];
                (names[id as usize - 1].clone(), s.score)
            })
            .collect();
        assert_eq!(top, vec![("vivo".into(), 5.0), ("htc".into(), 4.6)]);
    }

    #[test]
    fn ranking_never_returns_the_profile_or_excluded_items() {
        let mut ratings = Vec::new();
        for user in 1..=30 {
            for item in 1..=12 {
                if (user + item) % 3 != 0 {
                    let value = 1.0 + ((user * item) % 5) as f32;
                    ratings.push(Rating { user, item, value });
                }
            }
        }
        for strategy in Strategy::all() {
            let model = Model::fit(&ratings, strategy);
            let u = model.matrix.user(4).unwrap();
            let row: Vec<(u32, f32)> = {
                let (items, values) = model.matrix.by_user.row(u as usize);
                items.iter().copied().zip(values.iter().copied()).collect()
            };
            let off_sale = model.matrix.item(5).unwrap();
            let top = model.top_n(
                Profile {
                    user: Some(u),
                    items: &row,
                },
                12,
                |i| i == off_sale,
            );
            for s in &top {
                assert!(row.iter().all(|(i, _)| *i != s.item), "{}", strategy.name());
                assert_ne!(s.item, off_sale, "{}", strategy.name());
            }
        }
    }

    fn lists(model: &Model, user: i64) -> Vec<(u32, f32, Option<Because>)> {
        let Some(u) = model.matrix.user(user) else {
            return Vec::new();
        };
        let (items, values) = model.matrix.by_user.row(u as usize);
        let row: Vec<(u32, f32)> = items.iter().copied().zip(values.iter().copied()).collect();
        let profile = Profile {
            user: Some(u),
            items: &row,
        };
        let top = model.top_n(profile, 10, |_| false);
        top.iter().map(|s| (s.item, s.score, s.because)).collect()
    }

    #[test]
    fn fitting_to_rank_for_some_users_lists_the_same_for_them_and_nothing_for_others() {
        let ratings: Vec<Rating> =
            crate::recommend::generate::generate(crate::recommend::generate::Spec {
                users: 120,
                items: 80,
                ratings: 4_000,
                seed: 3,
            })
            .iter()
            .map(crate::recommend::generate::Generated::rating)
            .collect();
        let users: HashSet<i64> = ratings.iter().map(|r| r.user).step_by(7).take(10).collect();
        let other = ratings.iter().map(|r| r.user).find(|u| !users.contains(u));
        for strategy in [USER_COSINE, ITEM_COSINE, Strategy::Ease] {
            let (full, ranking) = (
                Model::fit(&ratings, strategy),
                Model::fit_to_rank(&ratings, strategy, &users),
            );
            for &user in &users {
                let expected = lists(&full, user);
                assert!(!expected.is_empty(), "{}", strategy.name());
                assert_eq!(lists(&ranking, user), expected, "{}", strategy.name());
            }
            let other = lists(&ranking, other.unwrap());
            // Only the user-based model skips the others' neighbours.
            assert_eq!(
                other.is_empty(),
                strategy == USER_COSINE,
                "{}",
                strategy.name()
            );
        }
    }

    #[test]
    fn predictions_stay_within_the_rating_scale_and_the_list_only_strategies_predict_nothing() {
        let ratings: Vec<Rating> = (1..=10)
            .flat_map(|user| {
                (1..=8).map(move |item| Rating {
                    user,
                    item,
                    value: if item % 2 == 0 { 5.0 } else { 1.0 },
                })
            })
            .collect();
        for strategy in Strategy::all() {
            let model = Model::fit(&ratings, strategy);
            match model.predict(3, 4) {
                None => assert!(matches!(
                    strategy,
                    Strategy::Popular | Strategy::Ease | Strategy::Mix | Strategy::Rp3
                )),
                Some(p) => assert!((1.0..=5.0).contains(&p), "{} {p}", strategy.name()),
            }
            assert!(
                model
                    .predict(999, 4)
                    .is_none_or(|p| (1.0..=5.0).contains(&p))
            );
        }
    }

    #[test]
    fn mix_learns_eases_share_from_the_held_out_slice_and_mixes_both_lists() {
        use crate::recommend::generate::{self, Generated};
        let fit = |data: Vec<Generated>| {
            let ratings: Vec<Rating> = data.iter().map(Generated::rating).collect();
            Model::fit(&ratings, Strategy::Mix)
        };
        // Twins share tastes (user neighbours find them), bundles are taken together
        // (EASE's item weights find them): the learned shares say so.
        let (twins, mut bundles) = (fit(generate::twins()), fit(generate::bundles()));
        assert_eq!(
            (twins.learned.mix, bundles.learned.mix),
            (MIX_SHARES[0], MIX_SHARES[3])
        );
        assert_eq!(
            fit(generate::twins()).learned.mix,
            twins.learned.mix,
            "deterministic"
        );
        assert!(!Strategy::Mix.predicts() && twins.predict(1, 1).is_none());

        // All of EASE's share ranks as EASE; none of it as user-cosine.
        let top = |model: &Model| {
            let (items, values) = model.matrix.by_user.row(3);
            let row: Vec<(u32, f32)> = items.iter().copied().zip(values.iter().copied()).collect();
            let profile = Profile {
                user: Some(3),
                items: &row,
            };
            let list: Vec<u32> = model
                .top_n(profile, 10, |_| false)
                .iter()
                .map(|s| s.item)
                .collect();
            list
        };
        let ratings: Vec<Rating> = generate::bundles().iter().map(Generated::rating).collect();
        let ease = top(&Model::fit(&ratings, Strategy::Ease));
        let user = top(&Model::fit(&ratings, USER_COSINE));
        assert_ne!(ease, user);
        bundles.learned.mix = 1.0;
        assert_eq!(top(&bundles), ease);
        bundles.learned.mix = 0.0;
        assert_eq!(top(&bundles), user);
    }
}
