use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::RecommendContext;
use crate::domain::{TripDraft, TripPatch};
use crate::models::{Trip, TripView};

/// `PUT /v1/trips/{id}`: replaces every field.
#[utoipa::path(put, path = "/v1/trips/{id}", tag = "trips", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Trip id")), request_body = TripPatch,
    responses((status = 200, description = "Replaced", body = TripView),
        (status = 403, description = "Your roles do not allow this route", body = shared::openapi::ErrorBody),
        (status = 404, description = "No such trip", body = shared::openapi::ErrorBody),
        (status = 422, description = "Invalid fields", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = who.user_id))]
pub async fn replace_trip(
    ctx: web::Data<RecommendContext>,
    who: Identity,
    id: web::Path<i64>,
    body: shared::json::Json<TripPatch>,
) -> Result<HttpResponse, ApiError> {
    let draft = TripDraft::parse(body.into_inner(), true)?;
    save(&ctx, id.into_inner(), move |_| Ok(draft)).await
}

/// `PATCH /v1/trips/{id}`: changes the fields given.
#[utoipa::path(patch, path = "/v1/trips/{id}", tag = "trips", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Trip id")), request_body = TripPatch,
    responses((status = 200, description = "Updated", body = TripView),
        (status = 403, description = "Your roles do not allow this route", body = shared::openapi::ErrorBody),
        (status = 404, description = "No such trip", body = shared::openapi::ErrorBody),
        (status = 422, description = "Invalid fields", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = who.user_id))]
pub async fn update_trip(
    ctx: web::Data<RecommendContext>,
    who: Identity,
    id: web::Path<i64>,
    body: shared::json::Json<TripPatch>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.into_inner();
    save(&ctx, id.into_inner(), move |current| current.apply(patch)).await
}

/// Reads the trip, lets `change` produce its new fields, writes them through the cache
/// fences, and answers the trip as stored.
async fn save(
    ctx: &RecommendContext,
    id: i64,
    change: impl FnOnce(TripDraft) -> Result<TripDraft, ApiError> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    let (trip, status_changed) = ctx
        .cache()
        .write(id, move |conn| {
            let current = Trip::find(conn, id)?.ok_or_else(|| ApiError::not_found("trip"))?;
            let was = current.status;
            let draft = change(draft_of(&current))?;
            let version = Trip::update(conn, id, &draft, shared::time::now())?;
            let trip = Trip::find(conn, id)?.ok_or_else(|| ApiError::not_found("trip"))?;
            let status_changed = was != trip.status;
            Ok(((trip, status_changed), Some(version)))
        })
        .await?;
    if status_changed {
        ctx.recommender().changed().await;
    }
    Ok(HttpResponse::Ok().json(TripView::from(trip)))
}

fn draft_of(trip: &Trip) -> TripDraft {
    TripDraft {
        title: trip.title.clone(),
        destination: trip.destination.clone(),
        description: trip.description.clone(),
        price_cents: trip.price_cents,
        duration_days: trip.duration_days,
        tags: trip.tags.0.clone(),
        status: trip.status,
    }
}
