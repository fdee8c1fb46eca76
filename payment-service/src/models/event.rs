//! The `payment_events` table: every verified word from Alipay about an order (a
//! notification, a query answer) and what it did, so nothing Alipay said is dropped.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared::db::DbConnection;

use crate::schema::payment_events;

#[derive(Debug, Insertable)]
#[diesel(table_name = payment_events)]
pub struct NewPaymentEvent<'a> {
    pub order_id: i64,
    /// `notify` or `query`.
    pub source: &'a str,
    pub trade_status: &'a str,
    pub trade_no: Option<&'a str>,
    pub amount_cents: Option<i64>,
    pub notify_id: Option<&'a str>,
    /// `paid`, `closed`, `duplicate`, `flagged` or `ignored`.
    pub outcome: &'a str,
    pub created_at: NaiveDateTime,
}

impl NewPaymentEvent<'_> {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(payment_events::table)
            .values(self)
            .execute(conn)
            .map(drop)
    }
}

/// How many events of `order_id` had `outcome` (for tests and audits).
pub fn count(conn: &mut DbConnection, order_id: i64, outcome: &str) -> QueryResult<i64> {
    payment_events::table
        .filter(payment_events::order_id.eq(order_id))
        .filter(payment_events::outcome.eq(outcome))
        .count()
        .get_result(conn)
}
