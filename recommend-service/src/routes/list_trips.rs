use actix_web::{HttpRequest, HttpResponse, web};
use shared::ApiError;
use shared::list::{ListQuery, ListSpec};

use crate::context::RecommendContext;
use crate::domain::TripStatus;
use crate::models::trip::TripSort;
use crate::models::{Trip, TripFilter, TripView};

const SPEC: ListSpec = ListSpec::new(
    &["id", "price", "created_at", "rating"],
    &["destination", "tag", "min_price", "max_price", "status"],
);

/// `GET /v1/trips`: the catalog, filtered, sorted and paginated (public).
#[utoipa::path(get, path = "/v1/trips", tag = "trips",
    params(
        ("destination" = Option<String>, Query, description = "Exact destination"),
        ("tag" = Option<String>, Query, description = "Trips carrying this tag"),
        ("min_price" = Option<i64>, Query, description = "Lowest price in cents"),
        ("max_price" = Option<i64>, Query, description = "Highest price in cents"),
        ("status" = Option<String>, Query, description = "on_sale or off_sale"),
        ("sortby" = Option<String>, Query, description = "id (default), price, created_at or rating"),
        ("order" = Option<String>, Query, description = "asc or desc"),
        ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query),
        ("page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, description = "A page of trips", body = shared::list::Page<TripView>),
        (status = 400, description = "Unknown or malformed parameter", body = shared::openapi::ErrorBody),
        (status = 422, description = "Out-of-range parameter", body = shared::openapi::ErrorBody)))]
pub async fn list_trips(
    ctx: web::Data<RecommendContext>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(&SPEC, req.query_string())?;
    let filter = parse_filter(&query)?;
    let sort = match query.sort_by {
        "price" => TripSort::Price,
        "created_at" => TripSort::CreatedAt,
        "rating" => TripSort::Rating,
        _ => TripSort::Id,
    };
    let (descending, limit, offset) = (query.descending(), query.limit, query.offset);
    let (count, trips) = ctx
        .db()
        .run(move |conn| Ok(Trip::list(conn, &filter, sort, descending, limit, offset)?))
        .await?;
    let results: Vec<TripView> = trips.into_iter().map(TripView::from).collect();
    Ok(HttpResponse::Ok().json(query.page(req.path(), count, results)))
}

fn parse_filter(query: &ListQuery) -> Result<TripFilter, ApiError> {
    let filter = TripFilter {
        destination: query.filter("destination").map(|d| d.trim().to_owned()),
        tag: query
            .filter("tag")
            .map(crate::domain::parse_tag)
            .transpose()
            .map_err(|message| ApiError::validation("tag", message))?,
        min_price: query.filter_as("min_price")?,
        max_price: query.filter_as("max_price")?,
        status: query
            .filter("status")
            .map(|s| TripStatus::parse(s).map(|s| s.as_str().to_owned()))
            .transpose()
            .map_err(|message| ApiError::validation("status", message))?,
    };
    if let (Some(min), Some(max)) = (filter.min_price, filter.max_price)
        && min > max
    {
        return Err(ApiError::validation(
            "min_price",
            "must not exceed max_price",
        ));
    }
    Ok(filter)
}
