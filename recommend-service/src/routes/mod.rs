//! The route table of recommend-service.

use actix_web::web;

use crate::openapi::ApiDoc;

pub mod create_trip;
pub mod delete_rating;
pub mod delete_trip;
pub mod favourite_trip;
pub mod get_internal_trip;
pub mod get_recommendations;
pub mod get_trip;
mod health;
pub mod list_ratings;
pub mod list_trips;
pub mod rate_trip;
pub mod rebuild_model;
pub mod record_signal;
pub mod similar_trips;
pub mod update_trip;

pub fn config(cfg: &mut web::ServiceConfig) {
    shared::openapi::serve(cfg, <ApiDoc as utoipa::OpenApi>::openapi());
    cfg.route("/healthz", web::get().to(shared::http::healthz))
        .route("/readyz", web::get().to(health::readyz));
    ApiDoc::routes(cfg);
}
