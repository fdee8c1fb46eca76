//! `recommend-service import --ratings FILE`: bulk ratings for operators.
//!
//! The whole file is checked first; any bad line aborts with every bad line listed and
//! nothing written. The import then runs in one transaction: placeholder trips for
//! unknown items (numeric ids keep their id, names become the title), ratings created or
//! replaced (given at the line's timestamp when it has one), rating aggregates refreshed. Afterwards the touched trips' cache entries are
//! fenced and the model is told to rebuild. Ratings are whole stars, so fractional
//! ratings (the original CSV has 2.6) are rounded and counted.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::upsert::excluded;
use indicatif::{ProgressBar, ProgressStyle};
use shared::ApiError;
use shared::db::DbConnection;
use shared::redis::Redis;

use super::file::{self, ItemKey, Row};
use crate::cache::{CacheMode, TripCache};
use crate::config::Settings;
use crate::domain::TripStatus;
use crate::engine::Recommender;
use crate::models::trip::tags_text;
use crate::models::{NewRating, NewTrip, Trip};
use crate::schema::{ratings, trips};

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// MovieLens `user<TAB>item<TAB>rating<TAB>timestamp` or CSV `user,item,rating`.
    #[arg(long)]
    pub ratings: PathBuf,
    /// Status of the placeholder trips created for unknown items.
    #[arg(long, default_value = "off_sale")]
    pub placeholder_status: String,
}

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub ratings: usize,
    pub placeholders: usize,
    pub rounded: usize,
    pub trips_touched: usize,
}

const BATCH: usize = 1000;

pub async fn run(args: ImportArgs, settings: Settings) -> anyhow::Result<()> {
    let status = TripStatus::parse(&args.placeholder_status)
        .map_err(|m| anyhow::anyhow!("--placeholder-status {m}"))?;
    let rows = file::read(&args.ratings)?;
    let db = crate::startup::connect_db(&settings).await?;
    let redis = Redis::connect(&settings.server.redis)?;
    let progress = ProgressBar::new(rows.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ratings ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    progress.set_message("importing");
    let bar = progress.clone();
    let (summary, versions) = db
        .run(move |conn| {
            shared::db::write_transaction(conn, |conn| import(conn, &rows, status, &bar))
        })
        .await
        .map_err(|err| anyhow::anyhow!("import failed, nothing was imported: {err:?}"))?;
    progress.finish_with_message("imported");

    let cache = TripCache::new(
        db.clone(),
        redis.clone(),
        settings.cache_ttl,
        CacheMode::Versioned,
    );
    let mut unfenced = 0;
    for (id, version) in &versions {
        if cache.invalidate(*id, *version).await.is_err() {
            unfenced += 1;
        }
    }
    if unfenced > 0 {
        eprintln!(
            "warning: Redis unreachable; {unfenced} cached trips may show old rating counts for up to TRIP_CACHE_TTL"
        );
    }
    Recommender::new(db, redis).changed().await;
    println!(
        "imported {} ratings from {}: {} placeholder trips created, {} ratings rounded to whole stars, {} trips updated",
        summary.ratings,
        args.ratings.display(),
        summary.placeholders,
        summary.rounded,
        summary.trips_touched
    );
    Ok(())
}

/// The import itself, inside the caller's transaction. Returns the summary and the new
/// version of every touched trip.
pub fn import(
    conn: &mut DbConnection,
    rows: &[Row],
    placeholder_status: TripStatus,
    progress: &ProgressBar,
) -> Result<(Summary, Vec<(i64, i64)>), ApiError> {
    let mut summary = Summary::default();
    let (trip_ids, created) = resolve_items(conn, rows, placeholder_status)?;
    summary.placeholders = created;

    // Each rating keeps the time its line gives (MovieLens), so `auto`'s "most recent
    // part of each user's ratings" means what it says; lines without one get the time of
    // the import. The newest rating of a (user, trip) pair wins, as on re-rating; at the
    // same time, the later line.
    let now = shared::time::now();
    let mut latest: HashMap<(i64, i64), (NaiveDateTime, i32)> = HashMap::new();
    for row in rows {
        let stars = row.value.round();
        if stars != row.value {
            summary.rounded += 1;
        }
        let at = row.given_at().unwrap_or(now);
        let slot = latest
            .entry((row.user, trip_ids[&row.item]))
            .or_insert((at, stars as i32));
        if at >= slot.0 {
            *slot = (at, stars as i32);
        }
    }
    let mut new_rows: Vec<NewRating> = latest
        .into_iter()
        .map(|((user_id, trip_id), (at, score))| NewRating {
            user_id,
            trip_id,
            score,
            created_at: at,
            updated_at: at,
        })
        .collect();
    new_rows.sort_unstable_by_key(|r| (r.user_id, r.trip_id));
    let scale = rows.len() as f64 / new_rows.len().max(1) as f64;
    for (n, batch) in new_rows.chunks(BATCH).enumerate() {
        upsert_ratings(conn, batch)?;
        progress.set_position((((n + 1) * BATCH).min(new_rows.len()) as f64 * scale) as u64);
    }
    summary.ratings = new_rows.len();

    let touched: HashSet<i64> = new_rows.iter().map(|r| r.trip_id).collect();
    let mut versions = Vec::with_capacity(touched.len());
    for id in touched {
        versions.push((id, Trip::refresh_rating(conn, id)?));
    }
    summary.trips_touched = versions.len();
    Ok((summary, versions))
}

/// Creates or replaces ratings: one statement per batch on PostgreSQL; SQLite (whose
/// batch insert diesel cannot combine with `ON CONFLICT`) row by row in the same
/// transaction, which costs little there.
fn upsert_ratings(conn: &mut DbConnection, batch: &[NewRating]) -> QueryResult<()> {
    macro_rules! upsert {
        ($conn:ident, $values:expr) => {
            diesel::insert_into(ratings::table)
                .values($values)
                .on_conflict((ratings::user_id, ratings::trip_id))
                .do_update()
                .set((
                    ratings::score.eq(excluded(ratings::score)),
                    ratings::updated_at.eq(excluded(ratings::updated_at)),
                ))
                .execute($conn)
        };
    }
    match conn {
        DbConnection::Postgresql(pg) => upsert!(pg, batch).map(drop),
        DbConnection::Sqlite(lite) => {
            for row in batch {
                upsert!(lite, row)?;
            }
            Ok(())
        }
    }
}

/// The trip id of every item key, creating placeholders for unknown ones.
fn resolve_items(
    conn: &mut DbConnection,
    rows: &[Row],
    status: TripStatus,
) -> Result<(HashMap<ItemKey, i64>, usize), ApiError> {
    let keys: HashSet<&ItemKey> = rows.iter().map(|r| &r.item).collect();
    let ids: Vec<i64> = keys
        .iter()
        .filter_map(|k| match k {
            ItemKey::Id(id) => Some(*id),
            ItemKey::Name(_) => None,
        })
        .collect();
    let names: Vec<&str> = keys
        .iter()
        .filter_map(|k| match k {
            ItemKey::Name(name) => Some(name.as_str()),
            ItemKey::Id(_) => None,
        })
        .collect();

    let mut resolved: HashMap<ItemKey, i64> = HashMap::new();
    let mut existing: HashSet<i64> = HashSet::new();
    for chunk in ids.chunks(BATCH) {
        existing.extend(
            trips::table
                .filter(trips::id.eq_any(chunk))
                .select(trips::id)
                .load::<i64>(conn)?,
        );
    }
    let now = shared::time::now();
    let placeholder = |id: Option<i64>, title: String| NewTrip {
        id,
        title,
        destination: "unknown".into(),
        description: "Imported with ratings; details to be filled in.".into(),
        price_cents: 0,
        duration_days: 1,
        tags: tags_text(&[]),
        status: status.as_str().into(),
        created_at: now,
        updated_at: now,
    };
    let mut missing: Vec<NewTrip> = ids
        .iter()
        .filter(|id| !existing.contains(id))
        .map(|id| placeholder(Some(*id), format!("Trip {id}")))
        .collect();
    missing.sort_unstable_by_key(|t| t.id);
    let mut created = missing.len();
    for trip in &missing {
        diesel::insert_into(trips::table)
            .values(trip)
            .execute(conn)?;
    }
    if created > 0
        && let DbConnection::Postgresql(pg) = conn
    {
        // Explicit ids do not advance the sequence; later trips must not collide.
        diesel::sql_query(
            "SELECT setval(pg_get_serial_sequence('trips', 'id'), (SELECT MAX(id) FROM trips))",
        )
        .execute(pg)?;
    }
    for id in ids {
        resolved.insert(ItemKey::Id(id), id);
    }

    let mut by_title: HashMap<String, i64> = HashMap::new();
    for chunk in names.chunks(BATCH) {
        for (id, title) in trips::table
            .filter(trips::title.eq_any(chunk))
            .select((trips::id, trips::title))
            .order(trips::id.asc())
            .load::<(i64, String)>(conn)?
        {
            by_title.entry(title).or_insert(id);
        }
    }
    for name in names {
        let id = match by_title.get(name) {
            Some(id) => *id,
            None => {
                created += 1;
                Trip::insert(conn, &placeholder(None, name.to_owned()))?.id
            }
        };
        resolved.insert(ItemKey::Name(name.to_owned()), id);
    }
    Ok((resolved, created))
}
