//! The `orders` table: rows, insert form, views and the queries on them. Every state
//! change is a conditional UPDATE on the current status, so concurrent writers (duplicate
//! notifications, two replicas' jobs) make at most one transition.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use shared::db::DbConnection;
use shared::list::ListQuery;

use crate::domain::OrderStatus;
use crate::models::{PaymentEventView, RefundView};
use crate::schema::orders;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = orders)]
pub struct Order {
    pub id: i64,
    pub out_trade_no: String,
    pub user_id: i64,
    pub trip_id: i64,
    pub quantity: i32,
    pub amount_cents: i64,
    pub refunded_cents: i64,
    pub subject: String,
    pub status: OrderStatus,
    pub trade_no: Option<String>,
    pub close_reason: Option<String>,
    pub needs_reconciliation: bool,
    pub created_at: NaiveDateTime,
    pub paid_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub last_queried_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = orders)]
pub struct NewOrder {
    pub out_trade_no: String,
    pub user_id: i64,
    pub trip_id: i64,
    pub quantity: i32,
    pub amount_cents: i64,
    pub subject: String,
    pub status: String,
    pub created_at: NaiveDateTime,
}

/// What a list may be narrowed to.
#[derive(Debug, Default, Clone)]
pub struct OrderFilter {
    /// Only this user's orders (always set for a traveller).
    pub user_id: Option<i64>,
    pub status: Option<OrderStatus>,
    pub trip_id: Option<i64>,
    pub created_from: Option<NaiveDateTime>,
    pub created_before: Option<NaiveDateTime>,
    pub needs_reconciliation: Option<bool>,
}

/// An order as the API shows it. Money is integer cents (CNY).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    pub id: i64,
    pub out_trade_no: String,
    pub user_id: i64,
    pub trip_id: i64,
    pub quantity: i32,
    pub unit_price_cents: i64,
    pub amount_cents: i64,
    pub refunded_cents: i64,
    pub currency: &'static str,
    pub subject: String,
    pub status: OrderStatus,
    /// Alipay's trade number, once paid.
    pub trade_no: Option<String>,
    /// `timeout`, `cancelled` or `alipay`, once closed.
    pub close_reason: Option<String>,
    /// Alipay reported something this order's state could not take (e.g. a payment after
    /// it was closed; the report is kept in payment_events): an order_admin must look at it.
    pub needs_reconciliation: bool,
    #[serde(with = "shared::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    /// Until when a pending order can be paid.
    #[serde(with = "shared::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub pay_before: NaiveDateTime,
    #[serde(serialize_with = "shared::time::rfc3339_opt::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub paid_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "shared::time::rfc3339_opt::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<NaiveDateTime>,
    /// In the detail view only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunds: Option<Vec<RefundView>>,
    /// With the `orders-all` scope only, in the detail view: everything Alipay reported about the trade
    /// and what it did, refused reports (`outcome` `refused`, with a `reason`) included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<PaymentEventView>>,
}

impl Order {
    pub fn status(&self) -> OrderStatus {
        self.status
    }

    pub fn view(self, payment_timeout: std::time::Duration) -> OrderView {
        let pay_before = self.created_at
            + chrono::Duration::from_std(payment_timeout).unwrap_or(chrono::Duration::MAX);
        OrderView {
            status: self.status(),
            id: self.id,
            out_trade_no: self.out_trade_no,
            user_id: self.user_id,
            trip_id: self.trip_id,
            quantity: self.quantity,
            unit_price_cents: self.amount_cents / i64::from(self.quantity.max(1)),
            amount_cents: self.amount_cents,
            refunded_cents: self.refunded_cents,
            currency: "CNY",
            subject: self.subject,
            trade_no: self.trade_no,
            close_reason: self.close_reason,
            needs_reconciliation: self.needs_reconciliation,
            created_at: self.created_at,
            pay_before,
            paid_at: self.paid_at,
            closed_at: self.closed_at,
            refunds: None,
            events: None,
        }
    }

    pub fn insert(conn: &mut DbConnection, new: &NewOrder) -> QueryResult<Order> {
        let id = diesel::insert_into(orders::table)
            .values(new)
            .returning(orders::id)
            .get_result(conn)?;
        Self::find(conn, id)
    }

    pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Order> {
        orders::table
            .find(id)
            .select(Order::as_select())
            .first(conn)
    }

    pub fn find_by_out_trade_no(
        conn: &mut DbConnection,
        out_trade_no: &str,
    ) -> QueryResult<Option<Order>> {
        orders::table
            .filter(orders::out_trade_no.eq(out_trade_no))
            .select(Order::as_select())
            .first(conn)
            .optional()
    }

    /// The page `query` asks for and the number of all matches.
    pub fn list(
        conn: &mut DbConnection,
        filter: &OrderFilter,
        query: &ListQuery,
    ) -> QueryResult<(i64, Vec<Order>)> {
        let count = filtered(filter).count().get_result(conn)?;
        let mut rows = filtered(filter).select(Order::as_select());
        rows = match (query.sort_by, query.descending()) {
            ("amount_cents", false) => rows.order((orders::amount_cents.asc(), orders::id.asc())),
            ("amount_cents", true) => rows.order((orders::amount_cents.desc(), orders::id.desc())),
            ("paid_at", false) => rows.order((orders::paid_at.asc(), orders::id.asc())),
            ("paid_at", true) => rows.order((orders::paid_at.desc(), orders::id.desc())),
            ("id", false) => rows.order(orders::id.asc()),
            ("id", true) => rows.order(orders::id.desc()),
            (_, false) => rows.order((orders::created_at.asc(), orders::id.asc())),
            (_, true) => rows.order((orders::created_at.desc(), orders::id.desc())),
        };
        let rows = rows.limit(query.limit).offset(query.offset).load(conn)?;
        Ok((count, rows))
    }

    /// pending → paid. Returns whether this call made the transition.
    pub fn mark_paid(
        conn: &mut DbConnection,
        id: i64,
        trade_no: &str,
        at: NaiveDateTime,
    ) -> QueryResult<bool> {
        diesel::update(pending(id))
            .set((
                orders::status.eq(OrderStatus::Paid.as_str()),
                orders::trade_no.eq(trade_no),
                orders::paid_at.eq(at),
            ))
            .execute(conn)
            .map(|n| n == 1)
    }

    /// pending → closed. Returns whether this call made the transition.
    pub fn mark_closed(
        conn: &mut DbConnection,
        id: i64,
        reason: &str,
        at: NaiveDateTime,
    ) -> QueryResult<bool> {
        diesel::update(pending(id))
            .set((
                orders::status.eq(OrderStatus::Closed.as_str()),
                orders::close_reason.eq(reason),
                orders::closed_at.eq(at),
            ))
            .execute(conn)
            .map(|n| n == 1)
    }

    /// Marks the order for an order_admin's attention, keeping Alipay's trade number.
    pub fn flag(conn: &mut DbConnection, id: i64, trade_no: Option<&str>) -> QueryResult<()> {
        diesel::update(orders::table.find(id))
            .set(orders::needs_reconciliation.eq(true))
            .execute(conn)?;
        if let Some(trade_no) = trade_no {
            diesel::update(orders::table.find(id).filter(orders::trade_no.is_null()))
                .set(orders::trade_no.eq(trade_no))
                .execute(conn)?;
        }
        Ok(())
    }

    /// Adds a completed refund; the order becomes `refunded` when all is refunded.
    pub fn add_refund(conn: &mut DbConnection, id: i64, cents: i64) -> QueryResult<bool> {
        let added = diesel::update(
            orders::table
                .find(id)
                .filter(orders::status.eq(OrderStatus::Paid.as_str()))
                .filter((orders::refunded_cents + cents).le(orders::amount_cents)),
        )
        .set(orders::refunded_cents.eq(orders::refunded_cents + cents))
        .execute(conn)?;
        diesel::update(
            orders::table
                .find(id)
                .filter(orders::status.eq(OrderStatus::Paid.as_str()))
                .filter(orders::refunded_cents.eq(orders::amount_cents)),
        )
        .set(orders::status.eq(OrderStatus::Refunded.as_str()))
        .execute(conn)?;
        Ok(added == 1)
    }

    /// Pending orders created before `before`: due to close.
    pub fn expired(
        conn: &mut DbConnection,
        before: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<Order>> {
        orders::table
            .filter(orders::status.eq(OrderStatus::Pending.as_str()))
            .filter(orders::created_at.lt(before))
            .order(orders::created_at.asc())
            .limit(limit)
            .select(Order::as_select())
            .load(conn)
    }

    /// Pending orders created before `created_before` and not asked about at Alipay since
    /// `queried_before`: due for a trade query.
    pub fn due_for_query(
        conn: &mut DbConnection,
        created_before: NaiveDateTime,
        queried_before: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<Order>> {
        orders::table
            .filter(orders::status.eq(OrderStatus::Pending.as_str()))
            .filter(orders::created_at.lt(created_before))
            .filter(
                orders::last_queried_at
                    .is_null()
                    .or(orders::last_queried_at.lt(queried_before)),
            )
            .order(orders::created_at.asc())
            .limit(limit)
            .select(Order::as_select())
            .load(conn)
    }

    /// The order `id`, locked until the transaction ends, read after the lock was taken:
    /// a check on it holds until commit. The row is written unchanged first, which locks
    /// it on PostgreSQL (like `SELECT … FOR UPDATE`, on either backend's SQL); on SQLite
    /// the caller's `BEGIN IMMEDIATE` ([`shared::db::write_transaction`]) already holds
    /// the database's write lock. Call it inside a write transaction.
    pub fn find_locked(conn: &mut DbConnection, id: i64) -> QueryResult<Order> {
        let touched = diesel::update(orders::table.find(id))
            .set(orders::refunded_cents.eq(orders::refunded_cents))
            .execute(conn)?;
        if touched == 0 {
            return Err(diesel::result::Error::NotFound);
        }
        Self::find(conn, id)
    }

    pub fn record_query(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> QueryResult<()> {
        diesel::update(orders::table.find(id))
            .set(orders::last_queried_at.eq(at))
            .execute(conn)
            .map(drop)
    }
}

type Pending = diesel::dsl::Filter<
    diesel::dsl::Find<orders::table, i64>,
    diesel::dsl::Eq<orders::status, &'static str>,
>;

fn pending(id: i64) -> Pending {
    orders::table
        .find(id)
        .filter(orders::status.eq(OrderStatus::Pending.as_str()))
}

fn filtered(
    filter: &OrderFilter,
) -> orders::BoxedQuery<'static, <DbConnection as diesel::Connection>::Backend> {
    let mut query = orders::table.into_boxed();
    if let Some(user_id) = filter.user_id {
        query = query.filter(orders::user_id.eq(user_id));
    }
    if let Some(status) = filter.status {
        query = query.filter(orders::status.eq(status.as_str()));
    }
    if let Some(trip_id) = filter.trip_id {
        query = query.filter(orders::trip_id.eq(trip_id));
    }
    if let Some(from) = filter.created_from {
        query = query.filter(orders::created_at.ge(from));
    }
    if let Some(before) = filter.created_before {
        query = query.filter(orders::created_at.lt(before));
    }
    if let Some(flagged) = filter.needs_reconciliation {
        query = query.filter(orders::needs_reconciliation.eq(flagged));
    }
    query
}
