use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::json;
use shared::identity::Identity;
use shared::list::{ListQuery, ListSpec, Order as SortOrder};
use shared::{ApiError, Code};

use crate::context::PaymentContext;
use crate::domain::{OrderStatus, Viewer};
use crate::models::{Order, OrderFilter, OrderView};

const SPEC: ListSpec = ListSpec::new(
    &["id", "created_at", "amount_cents", "paid_at"],
    &[
        "status",
        "trip_id",
        "user_id",
        "created_from",
        "created_before",
        "needs_reconciliation",
    ],
)
.sorted_by("created_at", SortOrder::Desc);

/// `GET /v1/orders`: the caller's orders (every order with the `orders-all` scope), newest
/// first.
#[utoipa::path(get, path = "/v1/orders", tag = "orders", security(("bearer" = [])),
    params(("status" = Option<String>, Query, description = "pending, paid, refunded or closed"),
        ("trip_id" = Option<i64>, Query),
        ("user_id" = Option<i64>, Query, description = "Needs the `orders-all` scope; without it one sees only one's own"),
        ("created_from" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD, inclusive"),
        ("created_before" = Option<String>, Query, description = "RFC 3339 time or YYYY-MM-DD, exclusive"),
        ("needs_reconciliation" = Option<bool>, Query),
        ("sortby" = Option<String>, Query, description = "id, created_at, amount_cents, paid_at"),
        ("order" = Option<String>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query),
        ("page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, description = "A page of orders", body = shared::list::Page<OrderView>),
        (status = 400, description = "Unknown or malformed parameter", body = shared::openapi::ErrorBody)))]
pub async fn list_orders(
    ctx: web::Data<PaymentContext>,
    who: Identity,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let viewer = Viewer::from(&who);
    let query = ListQuery::parse(&SPEC, req.query_string())?;
    let mut filter = OrderFilter {
        user_id: query.filter_as("user_id")?,
        status: query.filter_as::<OrderStatus>("status")?,
        trip_id: query.filter_as("trip_id")?,
        created_from: date_filter(&query, "created_from")?,
        created_before: date_filter(&query, "created_before")?,
        needs_reconciliation: query.filter_bool("needs_reconciliation")?,
    };
    if !viewer.sees_all {
        if filter.user_id.is_some_and(|id| id != viewer.user_id) {
            let empty: Vec<OrderView> = Vec::new();
            return Ok(HttpResponse::Ok().json(query.page(req.path(), 0, empty)));
        }
        filter.user_id = Some(viewer.user_id);
    }
    let list_query = query.clone();
    let (count, rows) = ctx
        .db()
        .run(move |conn| Ok(Order::list(conn, &filter, &list_query)?))
        .await?;
    let timeout = ctx.orders().payment_timeout;
    let results: Vec<OrderView> = rows.into_iter().map(|o| o.view(timeout)).collect();
    Ok(HttpResponse::Ok().json(query.page(req.path(), count, results)))
}

fn date_filter(query: &ListQuery, name: &str) -> Result<Option<NaiveDateTime>, ApiError> {
    let Some(text) = query.filter(name) else {
        return Ok(None);
    };
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&Utc).naive_utc()));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                Code::InvalidParameter,
                format!("{name} must be an RFC 3339 time or a date like 2026-11-27."),
            )
            .with_details(json!({ "parameter": name }))
        })
}
