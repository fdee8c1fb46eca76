use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::RecommendContext;
use crate::domain::{TripDraft, TripPatch};
use crate::models::{NewTrip, Trip, TripView};

/// `POST /v1/trips`: adds a trip; 201 with its `Location`.
#[utoipa::path(post, path = "/v1/trips", tag = "trips", security(("bearer" = [])),
    request_body = TripPatch,
    responses((status = 201, description = "Created", body = TripView),
        (status = 401, description = "Not signed in", body = shared::openapi::ErrorBody),
        (status = 403, description = "Your roles do not allow this route", body = shared::openapi::ErrorBody),
        (status = 422, description = "Invalid fields", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create_trip(
    ctx: web::Data<RecommendContext>,
    who: Identity,
    body: shared::json::Json<TripPatch>,
) -> Result<HttpResponse, ApiError> {
    let draft = TripDraft::parse(body.into_inner(), false)?;
    let row = NewTrip::from_draft(draft, shared::time::now());
    let trip = ctx
        .db()
        .run(move |conn| Ok(Trip::insert(conn, &row)?))
        .await?;
    tracing::info!(trip_id = trip.id, user_id = who.user_id, "trip created");
    Ok(shared::http::created(
        format!("/v1/trips/{}", trip.id),
        TripView::from(trip),
    ))
}
