//! The route table of recommend-service.

use actix_web::web;
use shared::http::resource;

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
    shared::openapi::serve(cfg, <crate::openapi::ApiDoc as utoipa::OpenApi>::openapi());
    cfg.route("/healthz", web::get().to(shared::http::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .service(
            web::scope("/v1")
                .service(
                    resource("/trips")
                        .route(web::get().to(list_trips::list_trips))
                        .route(web::post().to(create_trip::create_trip)),
                )
                .service(
                    resource("/trips/{id}")
                        .route(web::get().to(get_trip::get_trip))
                        .route(web::put().to(update_trip::replace_trip))
                        .route(web::patch().to(update_trip::update_trip))
                        .route(web::delete().to(delete_trip::delete_trip)),
                )
                .service(
                    resource("/trips/{id}/similar")
                        .route(web::get().to(similar_trips::similar_trips)),
                )
                .service(
                    resource("/trips/{id}/favourite")
                        .route(web::post().to(favourite_trip::add_favourite))
                        .route(web::delete().to(favourite_trip::remove_favourite)),
                )
                .service(
                    resource("/ratings")
                        .route(web::get().to(list_ratings::list_ratings))
                        .route(web::post().to(rate_trip::rate_trip)),
                )
                .service(
                    resource("/ratings/{id}").route(web::delete().to(delete_rating::delete_rating)),
                )
                .service(
                    resource("/recommendations")
                        .route(web::get().to(get_recommendations::get_recommendations)),
                ),
        )
        .service(
            web::scope("/internal")
                .service(
                    resource("/trips/{id}")
                        .route(web::get().to(get_internal_trip::get_internal_trip)),
                )
                .service(resource("/signals").route(web::post().to(record_signal::record_signal)))
                .service(
                    resource("/model/rebuild").route(web::post().to(rebuild_model::rebuild_model)),
                ),
        );
}
