//! The `refunds` table: one row per refund request, keyed by its `out_request_no`.
//!
//! A refund is `pending` from before it is sent to Alipay until Alipay's verified answer;
//! pending and succeeded refunds together never exceed the order's amount.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use shared::db::DbConnection;

use crate::schema::refunds;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = refunds)]
pub struct Refund {
    pub id: i64,
    pub order_id: i64,
    pub out_request_no: String,
    pub amount_cents: i64,
    pub reason: Option<String>,
    pub status: String,
    pub failure: Option<String>,
    pub requested_by: i64,
    pub created_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = refunds)]
pub struct NewRefund {
    pub order_id: i64,
    pub out_request_no: String,
    pub amount_cents: i64,
    pub reason: Option<String>,
    pub status: String,
    pub requested_by: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundView {
    pub id: i64,
    pub out_request_no: String,
    pub amount_cents: i64,
    pub reason: Option<String>,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// Alipay's reason for a failed refund.
    pub failure: Option<String>,
    #[serde(with = "shared::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "shared::time::rfc3339_opt::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub completed_at: Option<NaiveDateTime>,
}

impl From<Refund> for RefundView {
    fn from(r: Refund) -> Self {
        Self {
            id: r.id,
            out_request_no: r.out_request_no,
            amount_cents: r.amount_cents,
            reason: r.reason,
            status: r.status,
            failure: r.failure,
            created_at: r.created_at,
            completed_at: r.completed_at,
        }
    }
}

pub const PENDING: &str = "pending";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

impl Refund {
    pub fn insert(conn: &mut DbConnection, new: &NewRefund) -> QueryResult<Refund> {
        let id: i64 = diesel::insert_into(refunds::table)
            .values(new)
            .returning(refunds::id)
            .get_result(conn)?;
        refunds::table
            .find(id)
            .select(Refund::as_select())
            .first(conn)
    }

    pub fn find_by_out_request_no(
        conn: &mut DbConnection,
        out_request_no: &str,
    ) -> QueryResult<Option<Refund>> {
        refunds::table
            .filter(refunds::out_request_no.eq(out_request_no))
            .select(Refund::as_select())
            .first(conn)
            .optional()
    }

    pub fn for_order(conn: &mut DbConnection, order_id: i64) -> QueryResult<Vec<Refund>> {
        refunds::table
            .filter(refunds::order_id.eq(order_id))
            .order(refunds::id.asc())
            .select(Refund::as_select())
            .load(conn)
    }

    /// Cents pending or refunded on `order_id`.
    pub fn committed_cents(conn: &mut DbConnection, order_id: i64) -> QueryResult<i64> {
        let amounts: Vec<i64> = refunds::table
            .filter(refunds::order_id.eq(order_id))
            .filter(refunds::status.eq_any([PENDING, SUCCEEDED]))
            .select(refunds::amount_cents)
            .load(conn)?;
        Ok(amounts.into_iter().sum())
    }

    /// Pending refunds created before `before` (sent, outcome unknown): to send again.
    pub fn stale_pending(
        conn: &mut DbConnection,
        before: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<Refund>> {
        refunds::table
            .filter(refunds::status.eq(PENDING))
            .filter(refunds::created_at.lt(before))
            .order(refunds::id.asc())
            .limit(limit)
            .select(Refund::as_select())
            .load(conn)
    }

    /// pending → `status`. Returns whether this call made the transition.
    pub fn complete(
        conn: &mut DbConnection,
        id: i64,
        status: &str,
        failure: Option<&str>,
        at: NaiveDateTime,
    ) -> QueryResult<bool> {
        diesel::update(refunds::table.find(id).filter(refunds::status.eq(PENDING)))
            .set((
                refunds::status.eq(status),
                refunds::failure.eq(failure),
                refunds::completed_at.eq(at),
            ))
            .execute(conn)
            .map(|n| n == 1)
    }
}
