use actix_web::{HttpRequest, HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;
use shared::list::{ListQuery, ListSpec, Order};

use crate::context::RecommendContext;
use crate::models::{Rating, RatingView};

const SPEC: ListSpec =
    ListSpec::new(&["updated_at"], &["trip_id"]).sorted_by("updated_at", Order::Desc);

/// `GET /v1/ratings`: the signed-in user's own ratings, newest first.
#[utoipa::path(get, path = "/v1/ratings", tag = "ratings", security(("bearer" = [])),
    params(("trip_id" = Option<i64>, Query), ("order" = Option<String>, Query),
        ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, description = "Your ratings", body = shared::list::Page<RatingView>),
        (status = 401, description = "Not signed in", body = shared::openapi::ErrorBody)))]
pub async fn list_ratings(
    ctx: web::Data<RecommendContext>,
    who: Identity,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(&SPEC, req.query_string())?;
    let trip_id: Option<i64> = query.filter_as("trip_id")?;
    let (user_id, descending, limit, offset) =
        (who.user_id, query.descending(), query.limit, query.offset);
    let (count, rows) = ctx
        .db()
        .run(move |conn| {
            Ok(Rating::list_for_user(
                conn, user_id, trip_id, descending, limit, offset,
            )?)
        })
        .await?;
    let results: Vec<RatingView> = rows.into_iter().map(RatingView::from).collect();
    Ok(HttpResponse::Ok().json(query.page(req.path(), count, results)))
}
