//! Turning a model's ranking into what a traveller sees: only trips on sale, never one
//! they rated or booked, each with a reason, and filled up with popular trips so every
//! list is full (cold start included).
//!
//! Exclusions and sale status are checked against the database at request time, so a
//! trip rated or taken off sale a moment ago never appears, even before the next model
//! rebuild. Everything here runs inside one blocking database job.

use std::collections::{HashMap, HashSet};

use diesel::QueryResult;
use serde::Serialize;
use shared::db::DbConnection;

use crate::domain::SignalKind;
use crate::engine::Snapshot;
use crate::models::{Rating, Signal, Trip, TripView};
use crate::recommend::{Because, Model, Profile, Scored};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Item,
    User,
    Popular,
    /// The closed-form item-item model; served when `auto` chose it.
    Ease,
    /// RP3beta, a random walk over who took what; served when `auto` chose it.
    Rp3,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Self::Item => "item",
            Self::User => "user",
            Self::Popular => "popular",
            Self::Ease => "ease",
            Self::Rp3 => "rp3",
        }
    }

    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        match raw {
            "item" => Ok(Some(Self::Item)),
            "user" => Ok(Some(Self::User)),
            "popular" => Ok(Some(Self::Popular)),
            "auto" => Ok(None),
            _ => Err("must be item, user, popular or auto".into()),
        }
    }
}

/// One recommended trip.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Recommendation {
    pub trip: TripView,
    /// Higher is better; comparable only within one list and source.
    pub score: f32,
    /// Why, in a few words ("because you rated Lijiang Old Town 5").
    pub reason: String,
    /// Which ranking produced it.
    pub source: Source,
}

/// How a user showed interest in a trip, strongest kept.
#[derive(Debug, Clone, Copy)]
enum Interest {
    Rated(i32),
    Signal(SignalKind),
}

impl Interest {
    fn preference(self) -> f32 {
        match self {
            Self::Rated(score) => score as f32,
            Self::Signal(kind) => kind.weight(),
        }
    }
}

/// The signed-in user's recommendations: `requested` or, for auto, what the model's
/// `auto` chose by evidence once the profile is large enough, and popularity before.
pub fn for_user(
    conn: &mut DbConnection,
    snapshot: &Snapshot,
    user_id: i64,
    requested: Option<Source>,
    limit: usize,
    min_profile: usize,
) -> QueryResult<(Source, Vec<Recommendation>)> {
    let interests = interests(conn, user_id)?;
    let excluded: HashSet<i64> = interests
        .iter()
        .filter(|(_, i)| {
            matches!(
                i,
                Interest::Rated(_) | Interest::Signal(SignalKind::Purchase)
            )
        })
        .map(|(trip, _)| *trip)
        .collect();
    let source = requested.unwrap_or(if interests.len() >= min_profile {
        snapshot.auto.strategy
    } else {
        Source::Popular
    });
    // Some candidates may have gone off sale since the last rebuild: take a margin.
    let want = limit * 2 + 10;
    let model = snapshot.model(source);
    let ranked = match source {
        Source::Popular => Vec::new(),
        _ => rank(model, user_id, &interests, &excluded, want),
    };
    let ids: Vec<i64> = ranked
        .iter()
        .map(|s| model.matrix.item_ids[s.item as usize])
        .collect();
    let candidates = load(conn, &ids)?;
    let chosen: Vec<(Scored, &TripView)> = ranked
        .into_iter()
        .filter_map(|scored| {
            let id = model.matrix.item_ids[scored.item as usize];
            let trip = candidates.get(&id).filter(|t| t.status == "on_sale")?;
            Some((scored, trip))
        })
        .take(limit)
        .collect();
    let because_ids: Vec<i64> = chosen
        .iter()
        .filter_map(|(scored, _)| match scored.because {
            Some(Because::Item(j)) => Some(model.matrix.item_ids[j as usize]),
            _ => None,
        })
        .collect();
    let titles = load(conn, &because_ids)?;
    let mut out = Vec::with_capacity(limit);
    for (scored, trip) in chosen {
        let reason = match scored.because {
            Some(Because::Item(j)) => {
                let j = model.matrix.item_ids[j as usize];
                because(
                    interests.get(&j).copied(),
                    titles.get(&j).map(|t| t.title.as_str()),
                )
            }
            _ => "travellers with tastes like yours rated it highly".to_owned(),
        };
        out.push(Recommendation {
            trip: trip.clone(),
            score: scored.score,
            reason,
            source,
        });
    }
    fill_with_popular(conn, &mut out, limit, &excluded)?;
    Ok((source, out))
}

/// Trips like `trip_id`: its nearest neighbours in the item model, then popular ones.
pub fn similar(
    conn: &mut DbConnection,
    snapshot: &Snapshot,
    trip: &TripView,
    limit: usize,
) -> QueryResult<Vec<Recommendation>> {
    let model = &snapshot.item;
    let neighbours: Vec<(i64, f32)> = model
        .matrix
        .item(trip.id)
        .map(|i| {
            model
                .neighbours(i)
                .iter()
                .map(|&(j, s)| (model.matrix.item_ids[j as usize], s))
                .collect()
        })
        .unwrap_or_default();
    let ids: Vec<i64> = neighbours.iter().map(|(id, _)| *id).collect();
    let trips = load(conn, &ids)?;
    let reason = format!("travellers who liked {} also liked this", trip.title);
    let mut out: Vec<Recommendation> = neighbours
        .into_iter()
        .filter_map(|(id, score)| {
            let found = trips.get(&id).filter(|t| t.status == "on_sale")?;
            Some(Recommendation {
                trip: found.clone(),
                score,
                reason: reason.clone(),
                source: Source::Item,
            })
        })
        .take(limit)
        .collect();
    fill_with_popular(conn, &mut out, limit, &HashSet::from([trip.id]))?;
    Ok(out)
}

fn interests(conn: &mut DbConnection, user_id: i64) -> QueryResult<HashMap<i64, Interest>> {
    let mut interests: HashMap<i64, Interest> = HashMap::new();
    for (trip, kind) in Signal::of_user(conn, user_id)? {
        let Ok(kind) = SignalKind::parse(&kind) else {
            continue;
        };
        let stronger = interests
            .get(&trip)
            .is_none_or(|i| kind.weight() > i.preference());
        if stronger {
            interests.insert(trip, Interest::Signal(kind));
        }
    }
    for (trip, score) in Rating::of_user(conn, user_id)? {
        interests.insert(trip, Interest::Rated(score));
    }
    Ok(interests)
}

fn rank(
    model: &Model,
    user_id: i64,
    interests: &HashMap<i64, Interest>,
    excluded: &HashSet<i64>,
    want: usize,
) -> Vec<Scored> {
    let mut items: Vec<(u32, f32)> = interests
        .iter()
        .filter_map(|(trip, interest)| model.matrix.item(*trip).map(|i| (i, interest.preference())))
        .collect();
    items.sort_unstable_by_key(|(i, _)| *i);
    let profile = Profile {
        user: model.matrix.user(user_id),
        items: &items,
    };
    model.top_n(profile, want, |i| {
        excluded.contains(&model.matrix.item_ids[i as usize])
    })
}

fn because(interest: Option<Interest>, title: Option<&str>) -> String {
    let title = title.unwrap_or("a trip you liked");
    match interest {
        Some(Interest::Rated(score)) => format!("because you rated {title} {score}"),
        Some(Interest::Signal(SignalKind::Purchase)) => format!("because you booked {title}"),
        Some(Interest::Signal(SignalKind::Favourite)) => {
            format!("because you saved {title} as a favourite")
        }
        Some(Interest::Signal(SignalKind::View)) | None => format!("because you looked at {title}"),
    }
}

fn load(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<HashMap<i64, TripView>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut unique = ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    Ok(Trip::find_many(conn, &unique)?
        .into_iter()
        .map(|t| (t.id, TripView::from(t)))
        .collect())
}

/// Tops `out` up to `limit` with the most popular on-sale trips not yet in it.
fn fill_with_popular(
    conn: &mut DbConnection,
    out: &mut Vec<Recommendation>,
    limit: usize,
    excluded: &HashSet<i64>,
) -> QueryResult<()> {
    if out.len() >= limit {
        return Ok(());
    }
    let fetch = (limit + excluded.len() + out.len()) as i64;
    let taken: HashSet<i64> = out.iter().map(|r| r.trip.id).collect();
    for trip in Trip::most_popular(conn, fetch)? {
        if out.len() >= limit {
            break;
        }
        if excluded.contains(&trip.id) || taken.contains(&trip.id) {
            continue;
        }
        let trip = TripView::from(trip);
        let reason = match trip.rating_avg {
            Some(avg) => format!(
                "popular with travellers: {} ratings, {avg:.1} on average",
                trip.rating_count
            ),
            None => "new on Waypoint".to_owned(),
        };
        out.push(Recommendation {
            score: trip.rating_count as f32,
            trip,
            reason,
            source: Source::Popular,
        });
    }
    Ok(())
}
