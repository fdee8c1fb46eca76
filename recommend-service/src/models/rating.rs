//! The `ratings` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use shared::db::DbConnection;

use crate::schema::ratings;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = ratings)]
pub struct Rating {
    pub id: i64,
    pub user_id: i64,
    pub trip_id: i64,
    pub score: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ratings)]
pub struct NewRating {
    pub user_id: i64,
    pub trip_id: i64,
    pub score: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A rating as its author sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RatingView {
    pub id: i64,
    pub trip_id: i64,
    /// 1–5.
    pub score: i32,
    #[serde(with = "shared::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[serde(with = "shared::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: NaiveDateTime,
}

impl From<Rating> for RatingView {
    fn from(r: Rating) -> Self {
        Self {
            id: r.id,
            trip_id: r.trip_id,
            score: r.score,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl Rating {
    pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Rating>> {
        ratings::table
            .find(id)
            .select(Rating::as_select())
            .first(conn)
            .optional()
    }

    pub fn find_by_user_trip(
        conn: &mut DbConnection,
        user_id: i64,
        trip_id: i64,
    ) -> QueryResult<Option<Rating>> {
        ratings::table
            .filter(ratings::user_id.eq(user_id))
            .filter(ratings::trip_id.eq(trip_id))
            .select(Rating::as_select())
            .first(conn)
            .optional()
    }

    /// Creates or replaces the user's rating of a trip; true when it was created.
    pub fn upsert(conn: &mut DbConnection, new: &NewRating) -> QueryResult<(Rating, bool)> {
        match Self::find_by_user_trip(conn, new.user_id, new.trip_id)? {
            Some(existing) => {
                diesel::update(ratings::table.find(existing.id))
                    .set((
                        ratings::score.eq(new.score),
                        ratings::updated_at.eq(new.updated_at),
                    ))
                    .execute(conn)?;
                let rating = Self::find(conn, existing.id)?.ok_or(diesel::NotFound)?;
                Ok((rating, false))
            }
            None => {
                let id = diesel::insert_into(ratings::table)
                    .values(new)
                    .returning(ratings::id)
                    .get_result(conn)?;
                let rating = Self::find(conn, id)?.ok_or(diesel::NotFound)?;
                Ok((rating, true))
            }
        }
    }

    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<()> {
        diesel::delete(ratings::table.find(id))
            .execute(conn)
            .map(drop)
    }

    pub fn list_for_user(
        conn: &mut DbConnection,
        user_id: i64,
        trip_id: Option<i64>,
        descending: bool,
        limit: i64,
        offset: i64,
    ) -> QueryResult<(i64, Vec<Rating>)> {
        let base = || {
            let mut q = ratings::table
                .filter(ratings::user_id.eq(user_id))
                .into_boxed();
            if let Some(trip_id) = trip_id {
                q = q.filter(ratings::trip_id.eq(trip_id));
            }
            q
        };
        let count = base().count().get_result(conn)?;
        let q = base();
        let q = if descending {
            q.order((ratings::updated_at.desc(), ratings::id.desc()))
        } else {
            q.order((ratings::updated_at.asc(), ratings::id.asc()))
        };
        let rows = q
            .limit(limit)
            .offset(offset)
            .select(Rating::as_select())
            .load(conn)?;
        Ok((count, rows))
    }

    /// (trip, score) of every rating of a user.
    pub fn of_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<(i64, i32)>> {
        ratings::table
            .filter(ratings::user_id.eq(user_id))
            .select((ratings::trip_id, ratings::score))
            .load(conn)
    }

    /// (user, trip, score, when last given) of every rating, for the model.
    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<(i64, i64, i32, NaiveDateTime)>> {
        ratings::table
            .select((
                ratings::user_id,
                ratings::trip_id,
                ratings::score,
                ratings::updated_at,
            ))
            .load(conn)
    }
}
