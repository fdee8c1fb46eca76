use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::RecommendContext;
use crate::domain::SignalKind;
use crate::models::TripView;
use crate::signals;

/// `GET /v1/trips/{id}`: one trip, read through the cache (public). A signed-in
/// traveller's view is recorded as an implicit signal.
#[utoipa::path(get, path = "/v1/trips/{id}", tag = "trips",
    params(("id" = i64, Path, description = "Trip id")),
    responses((status = 200, description = "The trip", body = TripView),
        (status = 404, description = "No such trip", body = shared::openapi::ErrorBody)))]
pub async fn get_trip(
    ctx: web::Data<RecommendContext>,
    id: web::Path<i64>,
    who: Option<Identity>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let trip = ctx
        .cache()
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found("trip"))?;
    if let Some(who) = who {
        // Off the response path: a lost view signal costs nothing.
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let reference = signals::view_reference(who.user_id, id);
            if let Err(err) =
                signals::record(&ctx, who.user_id, id, SignalKind::View, reference).await
            {
                tracing::debug!(error = ?err, "view signal not recorded");
            }
        });
    }
    Ok(HttpResponse::Ok().json(trip))
}
