//! The `trips` table: rows, forms, the API view and the queries on them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use shared::db::DbConnection;

use crate::domain::{TripDraft, TripStatus};
use crate::schema::{ratings, trips};

/// A row as stored. `tags` and `status` are text columns read into real types: a value
/// that does not parse fails the query (a 500 with the cause logged), never a guess.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = trips)]
pub struct Trip {
    pub id: i64,
    pub title: String,
    pub destination: String,
    pub description: String,
    pub price_cents: i64,
    pub duration_days: i32,
    #[diesel(deserialize_as = String)]
    pub tags: Tags,
    #[diesel(deserialize_as = String)]
    pub status: TripStatus,
    pub rating_count: i64,
    pub rating_avg: f64,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = trips)]
pub struct NewTrip {
    pub id: Option<i64>,
    pub title: String,
    pub destination: String,
    pub description: String,
    pub price_cents: i64,
    pub duration_days: i32,
    pub tags: String,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl NewTrip {
    pub fn from_draft(draft: TripDraft, now: NaiveDateTime) -> Self {
        Self {
            id: None,
            title: draft.title,
            destination: draft.destination,
            description: draft.description,
            price_cents: draft.price_cents,
            duration_days: draft.duration_days,
            tags: tags_text(&draft.tags),
            status: draft.status.as_str().to_owned(),
            created_at: now,
            updated_at: now,
        }
    }
}

/// The `tags` column: a JSON list of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tags(pub Vec<String>);

impl TryFrom<String> for Tags {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        serde_json::from_str(&text)
            .map(Tags)
            .map_err(|err| format!("trips.tags holds {text:?}, not a JSON list of strings: {err}"))
    }
}

/// How `tags` are stored.
pub fn tags_text(tags: &[String]) -> String {
    serde_json::Value::from(tags.to_vec()).to_string()
}

/// A trip as the API shows it (and as the cache keeps it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TripView {
    pub id: i64,
    pub title: String,
    pub destination: String,
    pub description: String,
    /// Integer cents, CNY.
    pub price_cents: i64,
    pub duration_days: i32,
    pub tags: Vec<String>,
    /// `on_sale` or `off_sale`.
    pub status: String,
    /// Mean rating, `null` while unrated.
    pub rating_avg: Option<f64>,
    pub rating_count: i64,
    #[serde(with = "shared::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[serde(with = "shared::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: NaiveDateTime,
}

impl From<Trip> for TripView {
    fn from(trip: Trip) -> Self {
        Self {
            id: trip.id,
            title: trip.title,
            destination: trip.destination,
            description: trip.description,
            price_cents: trip.price_cents,
            duration_days: trip.duration_days,
            tags: trip.tags.0,
            status: trip.status.as_str().to_owned(),
            rating_avg: (trip.rating_count > 0).then_some(trip.rating_avg),
            rating_count: trip.rating_count,
            created_at: trip.created_at,
            updated_at: trip.updated_at,
        }
    }
}

/// What other services need of a trip (the internal contract with payment-service).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TripSummary {
    pub id: i64,
    pub title: String,
    pub destination: String,
    pub price_cents: i64,
    pub status: String,
}

impl From<&TripView> for TripSummary {
    fn from(trip: &TripView) -> Self {
        Self {
            id: trip.id,
            title: trip.title.clone(),
            destination: trip.destination.clone(),
            price_cents: trip.price_cents,
            status: trip.status.clone(),
        }
    }
}

/// The list filters, parsed.
#[derive(Debug, Default, Clone)]
pub struct TripFilter {
    pub destination: Option<String>,
    pub tag: Option<String>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub status: Option<String>,
}

/// Sort keys of the list (API name → column).
#[derive(Debug, Clone, Copy)]
pub enum TripSort {
    Id,
    Price,
    CreatedAt,
    Rating,
}

type Boxed<'a> = trips::BoxedQuery<'a, <DbConnection as Connection>::Backend>;

impl TripFilter {
    fn apply<'a>(&'a self, mut query: Boxed<'a>) -> Boxed<'a> {
        if let Some(destination) = &self.destination {
            query = query.filter(trips::destination.eq(destination));
        }
        if let Some(tag) = &self.tag {
            // Tags are checked to `a-z 0-9 -`, so the pattern holds no wildcard.
            query = query.filter(trips::tags.like(format!("%\"{tag}\"%")));
        }
        if let Some(min) = self.min_price {
            query = query.filter(trips::price_cents.ge(min));
        }
        if let Some(max) = self.max_price {
            query = query.filter(trips::price_cents.le(max));
        }
        if let Some(status) = &self.status {
            query = query.filter(trips::status.eq(status));
        }
        query
    }
}

impl Trip {
    pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Trip>> {
        trips::table
            .find(id)
            .select(Trip::as_select())
            .first(conn)
            .optional()
    }

    pub fn find_many(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<Trip>> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            found.extend(
                trips::table
                    .filter(trips::id.eq_any(chunk))
                    .select(Trip::as_select())
                    .load(conn)?,
            );
        }
        Ok(found)
    }

    pub fn version(conn: &mut DbConnection, id: i64) -> QueryResult<Option<i64>> {
        trips::table
            .find(id)
            .select(trips::version)
            .first(conn)
            .optional()
    }

    /// The trip's version, read after locking its row until the transaction ends: no
    /// other writer can change the trip before this one commits. The row is written
    /// unchanged first, which locks it on PostgreSQL (as `SELECT … FOR UPDATE` would); on
    /// SQLite [`shared::db::write_transaction`]'s `BEGIN IMMEDIATE` already holds the
    /// database's write lock. Call it inside a write transaction.
    pub fn lock_version(conn: &mut DbConnection, id: i64) -> QueryResult<Option<i64>> {
        diesel::update(trips::table.find(id))
            .set(trips::version.eq(trips::version))
            .returning(trips::version)
            .get_result(conn)
            .optional()
    }

    pub fn insert(conn: &mut DbConnection, new: &NewTrip) -> QueryResult<Trip> {
        let id = diesel::insert_into(trips::table)
            .values(new)
            .returning(trips::id)
            .get_result(conn)?;
        Self::find(conn, id)?.ok_or(diesel::result::Error::NotFound)
    }

    /// Replaces the editable fields; returns the new version.
    pub fn update(
        conn: &mut DbConnection,
        id: i64,
        draft: &TripDraft,
        now: NaiveDateTime,
    ) -> QueryResult<i64> {
        diesel::update(trips::table.find(id))
            .set((
                trips::title.eq(&draft.title),
                trips::destination.eq(&draft.destination),
                trips::description.eq(&draft.description),
                trips::price_cents.eq(draft.price_cents),
                trips::duration_days.eq(draft.duration_days),
                trips::tags.eq(tags_text(&draft.tags)),
                trips::status.eq(draft.status.as_str()),
                trips::version.eq(trips::version + 1),
                trips::updated_at.eq(now),
            ))
            .returning(trips::version)
            .get_result(conn)
    }

    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
        diesel::delete(trips::table.find(id))
            .execute(conn)
            .map(|n| n > 0)
    }

    /// Recomputes the rating count and mean from `ratings`; returns the new version.
    pub fn refresh_rating(conn: &mut DbConnection, id: i64) -> QueryResult<i64> {
        let of_trip = ratings::table.filter(ratings::trip_id.eq(id));
        let count: i64 = of_trip.count().get_result(conn)?;
        let sum: Option<i64> = of_trip
            .select(diesel::dsl::sum(ratings::score))
            .first(conn)?;
        let avg = if count > 0 {
            sum.unwrap_or(0) as f64 / count as f64
        } else {
            0.0
        };
        diesel::update(trips::table.find(id))
            .set((
                trips::rating_count.eq(count),
                trips::rating_avg.eq(avg),
                trips::version.eq(trips::version + 1),
            ))
            .returning(trips::version)
            .get_result(conn)
    }

    pub fn list(
        conn: &mut DbConnection,
        filter: &TripFilter,
        sort: TripSort,
        descending: bool,
        limit: i64,
        offset: i64,
    ) -> QueryResult<(i64, Vec<Trip>)> {
        let count = filter
            .apply(trips::table.into_boxed())
            .count()
            .get_result(conn)?;
        let mut query = filter.apply(trips::table.into_boxed());
        query = match (sort, descending) {
            (TripSort::Id, false) => query.order(trips::id.asc()),
            (TripSort::Id, true) => query.order(trips::id.desc()),
            (TripSort::Price, false) => query.order(trips::price_cents.asc()),
            (TripSort::Price, true) => query.order(trips::price_cents.desc()),
            (TripSort::CreatedAt, false) => query.order(trips::created_at.asc()),
            (TripSort::CreatedAt, true) => query.order(trips::created_at.desc()),
            (TripSort::Rating, false) => query.order(trips::rating_avg.asc()),
            (TripSort::Rating, true) => query.order(trips::rating_avg.desc()),
        };
        let rows = query
            .then_order_by(trips::id.asc())
            .limit(limit)
            .offset(offset)
            .select(Trip::as_select())
            .load(conn)?;
        Ok((count, rows))
    }

    /// On-sale trips, most rated first (then best rated, then lowest id).
    pub fn most_popular(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<Trip>> {
        trips::table
            .filter(trips::status.eq("on_sale"))
            .order((
                trips::rating_count.desc(),
                trips::rating_avg.desc(),
                trips::id.asc(),
            ))
            .limit(limit)
            .select(Trip::as_select())
            .load(conn)
    }
}
