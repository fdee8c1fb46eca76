//! The `signals` table: implicit interest (views, favourites, purchases).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared::db::DbConnection;

use crate::each_backend;
use crate::schema::signals;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = signals)]
pub struct Signal {
    pub id: i64,
    pub user_id: i64,
    pub trip_id: i64,
    pub kind: String,
    pub reference: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = signals)]
pub struct NewSignal {
    pub user_id: i64,
    pub trip_id: i64,
    pub kind: String,
    pub reference: String,
    pub created_at: NaiveDateTime,
}

impl Signal {
    /// Records the signal unless one with the same (kind, reference) exists; true when
    /// it was new.
    pub fn record(conn: &mut DbConnection, new: &NewSignal) -> QueryResult<bool> {
        let inserted = each_backend!(conn => diesel::insert_into(signals::table)
            .values(new)
            .on_conflict((signals::kind, signals::reference))
            .do_nothing()
            .execute(conn))?;
        Ok(inserted > 0)
    }

    pub fn find_by_reference(
        conn: &mut DbConnection,
        kind: &str,
        reference: &str,
    ) -> QueryResult<Option<Signal>> {
        signals::table
            .filter(signals::kind.eq(kind))
            .filter(signals::reference.eq(reference))
            .select(Signal::as_select())
            .first(conn)
            .optional()
    }

    /// Removes the signal; true when there was one.
    pub fn remove(conn: &mut DbConnection, kind: &str, reference: &str) -> QueryResult<bool> {
        diesel::delete(
            signals::table
                .filter(signals::kind.eq(kind))
                .filter(signals::reference.eq(reference)),
        )
        .execute(conn)
        .map(|n| n > 0)
    }

    /// (trip, kind) of every signal of a user.
    pub fn of_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<(i64, String)>> {
        signals::table
            .filter(signals::user_id.eq(user_id))
            .select((signals::trip_id, signals::kind))
            .load(conn)
    }

    /// (user, trip, kind, when) of every signal, for the model.
    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<(i64, i64, String, NaiveDateTime)>> {
        signals::table
            .select((
                signals::user_id,
                signals::trip_id,
                signals::kind,
                signals::created_at,
            ))
            .load(conn)
    }
}
