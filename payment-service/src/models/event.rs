//! The `payment_events` table: every verified word from Alipay about a trade (a
//! notification, a query answer) and what it did, so nothing Alipay said is dropped, not
//! even what was refused (a wrong amount; a trade we do not know, which has no order).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use shared::db::DbConnection;

use crate::schema::payment_events;

/// The outcome of a report that was refused; `reason` says why.
pub const REFUSED: &str = "refused";

#[derive(Debug, Insertable)]
#[diesel(table_name = payment_events)]
pub struct NewPaymentEvent<'a> {
    /// `None` for a trade we do not know.
    pub order_id: Option<i64>,
    pub out_trade_no: &'a str,
    /// `notify` or `query`.
    pub source: &'a str,
    pub trade_status: &'a str,
    pub trade_no: Option<&'a str>,
    /// The amount Alipay stated.
    pub amount_cents: Option<i64>,
    pub notify_id: Option<&'a str>,
    /// `paid`, `closed`, `duplicate`, `flagged`, `ignored` or `refused`.
    pub outcome: &'a str,
    /// Why it was refused (`unknown_trade`, `amount_mismatch`).
    pub reason: Option<&'a str>,
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

/// An event as a holder of the `orders-all` scope sees it (in the order's detail).
#[derive(Debug, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = payment_events)]
pub struct PaymentEventView {
    pub id: i64,
    pub out_trade_no: String,
    /// `notify` (Alipay's notification) or `query` (our trade query).
    pub source: String,
    /// Alipay's trade_status, e.g. `TRADE_SUCCESS`.
    pub trade_status: String,
    /// Alipay's trade number, as stated.
    pub trade_no: Option<String>,
    /// The amount Alipay stated, in cents.
    pub amount_cents: Option<i64>,
    pub notify_id: Option<String>,
    /// `paid`, `closed`, `duplicate`, `flagged`, `ignored` or `refused`.
    pub outcome: String,
    /// Why it was refused: `unknown_trade` or `amount_mismatch`.
    pub reason: Option<String>,
    #[serde(with = "shared::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
}

/// The events of `order_id`, oldest first.
pub fn for_order(conn: &mut DbConnection, order_id: i64) -> QueryResult<Vec<PaymentEventView>> {
    payment_events::table
        .filter(payment_events::order_id.eq(order_id))
        .order(payment_events::id.asc())
        .select(PaymentEventView::as_select())
        .load(conn)
}

/// The events naming `out_trade_no`, known or not, oldest first.
pub fn for_trade(
    conn: &mut DbConnection,
    out_trade_no: &str,
) -> QueryResult<Vec<PaymentEventView>> {
    payment_events::table
        .filter(payment_events::out_trade_no.eq(out_trade_no))
        .order(payment_events::id.asc())
        .select(PaymentEventView::as_select())
        .load(conn)
}

/// How many events of `order_id` had `outcome` (for tests and audits).
pub fn count(conn: &mut DbConnection, order_id: i64, outcome: &str) -> QueryResult<i64> {
    payment_events::table
        .filter(payment_events::order_id.eq(order_id))
        .filter(payment_events::outcome.eq(outcome))
        .count()
        .get_result(conn)
}
