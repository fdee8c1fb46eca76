//! Synthetic ratings shaped like real ones, for tests and benchmarks (`recommend-service
//! gen`): item popularity follows a power law, user activity is heavy-tailed with at
//! least 20 ratings each (as in MovieLens), and both which items a user rates and how
//! they rate them depend on latent tastes, so there is structure for collaborative
//! filtering to find and popularity alone does not explain everything.

use super::matrix::Rating;
use super::rng::Rng;

#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub users: usize,
    pub items: usize,
    pub ratings: usize,
    pub seed: u64,
}

/// Latent taste dimensions.
const DIMS: usize = 8;
/// Exponent of the popularity power law (item of rank r weighs (r + 1)^-EXPONENT).
const POPULARITY_EXPONENT: f64 = 0.9;
/// How strongly taste steers which items a user picks.
const TASTE_SELECTION: f64 = 1.6;
/// Fewest ratings per user.
const MIN_PER_USER: usize = 20;

/// One generated rating: user, item (ids from 1), stars 1–5, Unix time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    pub user: i64,
    pub item: i64,
    pub stars: u8,
    pub timestamp: i64,
}

impl Generated {
    pub fn rating(&self) -> Rating {
        Rating {
            user: self.user,
            item: self.item,
            value: f32::from(self.stars),
        }
    }
}

/// Ratings for `spec`, in user order; as many as asked when users × items allows.
pub fn generate(spec: Spec) -> Vec<Generated> {
    let mut rng = Rng::new(spec.seed);
    let (users, items) = (spec.users.max(1), spec.items.max(1));
    let latent = |rng: &mut Rng| -> Vec<f64> { (0..DIMS).map(|_| rng.normal()).collect() };
    let tastes: Vec<Vec<f64>> = (0..users).map(|_| latent(&mut rng)).collect();
    let traits: Vec<Vec<f64>> = (0..items).map(|_| latent(&mut rng)).collect();
    let mut ranks: Vec<usize> = (0..items).collect();
    rng.shuffle(&mut ranks);
    let popularity: Vec<f64> = ranks
        .iter()
        .map(|r| ((r + 1) as f64).powf(-POPULARITY_EXPONENT))
        .collect();
    // Popular items are also somewhat better liked, as in real data.
    let item_bias: Vec<f64> = ranks
        .iter()
        .map(|r| 0.35 * rng.normal() + 0.4 - 0.8 * (*r as f64 / items as f64))
        .collect();
    let user_bias: Vec<f64> = (0..users).map(|_| 0.4 * rng.normal()).collect();
    let activity = per_user_counts(&mut rng, users, items, spec.ratings);

    let scale = (DIMS as f64).sqrt();
    let mut out = Vec::with_capacity(spec.ratings);
    let mut keys: Vec<(f64, usize)> = Vec::with_capacity(items);
    for (u, &count) in activity.iter().enumerate() {
        keys.clear();
        for i in 0..items {
            let affinity = dot(&tastes[u], &traits[i]) / scale;
            let weight = popularity[i] * (TASTE_SELECTION * affinity).exp();
            // Efraimidis–Spirakis: the `count` largest ln(U)/w are a weighted sample
            // without replacement.
            keys.push((rng.open_uniform().ln() / weight, i));
        }
        let count = count.min(items);
        if count < keys.len() {
            keys.select_nth_unstable_by(count, |a, b| b.0.total_cmp(&a.0));
        }
        let mut picked: Vec<usize> = keys[..count].iter().map(|(_, i)| *i).collect();
        picked.sort_unstable();
        for i in picked {
            let affinity = dot(&tastes[u], &traits[i]) / scale;
            let raw = 2.75 + user_bias[u] + item_bias[i] + 0.9 * affinity + 0.75 * rng.normal();
            out.push(Generated {
                user: u as i64 + 1,
                item: i as i64 + 1,
                stars: raw.round().clamp(1.0, 5.0) as u8,
                timestamp: 874_724_710 + (rng.uniform() * 18_000_000.0) as i64,
            });
        }
    }
    out
}

/// Heavy-tailed ratings per user (Pareto weights), each at least [`MIN_PER_USER`] and at
/// most half the items, summing to `total` when users × items/2 allows.
fn per_user_counts(rng: &mut Rng, users: usize, items: usize, total: usize) -> Vec<usize> {
    let floor = MIN_PER_USER.min(items).min(total / users.max(1));
    let cap = (items / 2).max(floor);
    let weights: Vec<f64> = (0..users)
        .map(|_| rng.open_uniform().powf(-1.0 / 1.6))
        .collect();
    let sum: f64 = weights.iter().sum();
    let spare = total.saturating_sub(floor * users) as f64;
    let mut counts: Vec<usize> = weights
        .iter()
        .map(|w| (floor + (spare * w / sum).floor() as usize).min(cap))
        .collect();
    // What the caps and rounding took goes to the heaviest users still below the cap.
    let mut order: Vec<usize> = (0..users).collect();
    order.sort_unstable_by(|a, b| weights[*b].total_cmp(&weights[*a]));
    let mut missing = total.saturating_sub(counts.iter().sum());
    while missing > 0 {
        let before = missing;
        for &u in &order {
            if missing == 0 {
                break;
            }
            if counts[u] < cap {
                counts[u] += 1;
                missing -= 1;
            }
        }
        if missing == before {
            break;
        }
    }
    counts
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Data on which ranking by similar *users* is right and item co-occurrence much less
/// so: pairs of travellers rated the same 30 of 1,000 trips (4 or 5 stars) in opposite
/// orders, so what one rated last the other rated first, among 200 travellers who rated
/// 100 random trips each and 2,000 who rated 4 (all at 3 stars, never relevant). A twin
/// is by far a traveller's most similar user, while the long random rows bury the twin's
/// co-occurrences (EASE, item-cosine) and the short ones bury a walk that weights each
/// traveller by one over their trips (RP3beta: a 4-trip row counts 6 times a twin's).
/// Timestamps give the order.
pub fn twins() -> Vec<Generated> {
    let mut rng = Rng::new(11);
    let mut out = Vec::new();
    for pair in 0..60i64 {
        let items = rng.sample(1_000, 30);
        for (k, &item) in items.iter().enumerate() {
            let stars = 4 + (k % 2) as u8;
            out.push(at(2 * pair + 1, item, stars, k));
            out.push(at(2 * pair + 2, item, stars, items.len() - k));
        }
    }
    for other in 0..200i64 {
        for (k, &item) in rng.sample(1_000, 100).iter().enumerate() {
            out.push(at(1_000 + other, item, 3, k));
        }
    }
    casual(&mut rng, &mut out, 2_000, 1_000);
    in_time_order(out)
}

/// Data on which item co-occurrence is right and similar users are not: trips come in
/// bundles of four that each traveller takes whole (6 of 40 bundles each, 120
/// travellers), in random order, so a traveller's latest trips complete bundles begun
/// earlier, while two travellers share a bundle only by chance. 1,000 more travellers
/// rated 4 random trips each at 3 stars: EASE counts each of their co-occurrences once,
/// as any other, while RP3beta's walk weights each traveller by one over their trips, so
/// a short random row counts 6 times a bundle traveller's. Timestamps give the order.
pub fn bundles() -> Vec<Generated> {
    let mut rng = Rng::new(12);
    let mut out = taking_bundles(&mut rng, 0);
    casual(&mut rng, &mut out, 1_000, 160);
    in_time_order(out)
}

/// [`bundles`]' 120 travellers without the casual ones, each of whom also took 5 of 10
/// famous trips (ids 161–170) at random times and rated them 3: twice as popular as any
/// bundle's trips, taken beside everything and never relevant. Co-occurrence (EASE,
/// item-cosine) and similar users list them; RP3beta divides each destination by its
/// popularity to a learned power β and passes over them. Timestamps give the order.
pub fn blockbusters() -> Vec<Generated> {
    let mut rng = Rng::new(12);
    let out = taking_bundles(&mut rng, 10);
    in_time_order(out)
}

/// 120 travellers taking 6 of 40 bundles of four whole (4 or 5 stars), in random order,
/// and 5 of `famous` trips after the bundles' 160 (3 stars) when there are any.
fn taking_bundles(rng: &mut Rng, famous: i64) -> Vec<Generated> {
    let mut out = Vec::new();
    for user in 1..=120i64 {
        let mut items: Vec<(i64, Option<u8>)> = rng
            .sample(40, 6)
            .iter()
            .flat_map(|b| (0..4).map(move |k| ((b - 1) * 4 + k + 1, None)))
            .collect();
        if famous > 0 {
            items.extend(rng.sample(famous, 5).iter().map(|f| (160 + f, Some(3))));
        }
        rng.shuffle(&mut items);
        for (k, &(item, stars)) in items.iter().enumerate() {
            let stars = stars.unwrap_or(4 + (k % 2) as u8);
            out.push(at(user, item, stars, k));
        }
    }
    out
}

/// `travellers` (ids from 10,000) who each rated 4 of the trips 1..=`trips` at 3 stars:
/// too few to hold anything out, and never relevant.
fn casual(rng: &mut Rng, out: &mut Vec<Generated>, travellers: i64, trips: i64) {
    for traveller in 0..travellers {
        for (k, &item) in rng.sample(trips, 4).iter().enumerate() {
            out.push(at(10_000 + traveller, item, 3, k));
        }
    }
}

fn at(user: i64, item: i64, stars: u8, step: usize) -> Generated {
    Generated {
        user,
        item,
        stars,
        timestamp: 1_700_000_000 + step as i64,
    }
}

fn in_time_order(mut ratings: Vec<Generated>) -> Vec<Generated> {
    ratings.sort_by_key(|g| (g.timestamp, g.user, g.item));
    ratings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_data_has_the_asked_shape_and_a_long_tail() {
        let spec = Spec {
            users: 300,
            items: 600,
            ratings: 10_000,
            seed: 1,
        };
        let data = generate(spec);
        assert_eq!(data, generate(spec), "deterministic for a seed");
        let n = data.len() as f64;
        assert_eq!(data.len(), 10_000, "exactly the ratings asked for");
        assert!(data.iter().all(|r| (1..=5).contains(&r.stars)));
        let mut per_item = vec![0usize; 601];
        let mut per_user = vec![0usize; 301];
        for r in &data {
            per_item[r.item as usize] += 1;
            per_user[r.user as usize] += 1;
        }
        assert!(per_user[1..].iter().all(|c| *c >= 20));
        per_item.sort_unstable_by(|a, b| b.cmp(a));
        let top_tenth: usize = per_item[..60].iter().sum();
        assert!(
            top_tenth as f64 > 0.3 * n,
            "the top 10% of items get {top_tenth} of {n}"
        );
        let mean = data.iter().map(|r| r.stars as f64).sum::<f64>() / n;
        assert!((3.0..4.0).contains(&mean), "mean rating {mean}");
    }
}
