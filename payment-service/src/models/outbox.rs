//! The `signal_outbox` table: purchase signals for recommend-service, written in the same
//! transaction as the payment and delivered (with backoff) until acknowledged, so a paid
//! order is never lost to a recommend-service outage.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared::db::DbConnection;

use crate::schema::signal_outbox;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = signal_outbox)]
pub struct Signal {
    pub id: i64,
    pub user_id: i64,
    pub trip_id: i64,
    pub reference: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = signal_outbox)]
struct NewSignal<'a> {
    user_id: i64,
    trip_id: i64,
    reference: &'a str,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

impl Signal {
    /// Queues the purchase signal of an order (once: `reference` is unique).
    pub fn enqueue(
        conn: &mut DbConnection,
        user_id: i64,
        trip_id: i64,
        reference: &str,
        at: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::insert_into(signal_outbox::table)
            .values(NewSignal {
                user_id,
                trip_id,
                reference,
                attempts: 0,
                next_attempt_at: at,
                created_at: at,
            })
            .execute(conn)
            .map(drop)
    }

    /// Undelivered signals due at `now`, oldest first.
    pub fn due(
        conn: &mut DbConnection,
        now: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<Signal>> {
        signal_outbox::table
            .filter(signal_outbox::delivered_at.is_null())
            .filter(signal_outbox::next_attempt_at.le(now))
            .order(signal_outbox::id.asc())
            .limit(limit)
            .select(Signal::as_select())
            .load(conn)
    }

    pub fn delivered(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> QueryResult<()> {
        diesel::update(signal_outbox::table.find(id))
            .set((
                signal_outbox::delivered_at.eq(at),
                signal_outbox::attempts.eq(signal_outbox::attempts + 1),
            ))
            .execute(conn)
            .map(drop)
    }

    pub fn failed(
        conn: &mut DbConnection,
        id: i64,
        next_attempt_at: NaiveDateTime,
        error: &str,
    ) -> QueryResult<()> {
        diesel::update(signal_outbox::table.find(id))
            .set((
                signal_outbox::attempts.eq(signal_outbox::attempts + 1),
                signal_outbox::next_attempt_at.eq(next_attempt_at),
                signal_outbox::last_error.eq(error),
            ))
            .execute(conn)
            .map(drop)
    }

    /// How many signals wait for delivery, and when the oldest of them was queued.
    pub fn backlog(conn: &mut DbConnection) -> QueryResult<(i64, Option<NaiveDateTime>)> {
        use diesel::dsl::{count_star, min};
        signal_outbox::table
            .filter(signal_outbox::delivered_at.is_null())
            .select((count_star(), min(signal_outbox::created_at)))
            .first(conn)
    }

    pub fn find(conn: &mut DbConnection, reference: &str) -> QueryResult<Option<Signal>> {
        signal_outbox::table
            .filter(signal_outbox::reference.eq(reference))
            .select(Signal::as_select())
            .first(conn)
            .optional()
    }
}
