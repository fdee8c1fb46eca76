//! recommend-service's OpenAPI description, served at `GET /openapi.json`, and the list of handlers
//! that routes/mod.rs routes from it.

use shared::openapi::BearerAuth;

use crate::routes::*;

shared::documented_api! {
    #[openapi(
        info(title = "Waypoint recommend-service", description = "Trips catalog, ratings and recommendations."),
        modifiers(&BearerAuth),
        tags((name = "trips", description = "The catalog"),
            (name = "ratings", description = "Your ratings"),
            (name = "recommendations", description = "Trips you may like"),
            (name = "internal", description = "For Waypoint's own services"))
    )]
    pub struct ApiDoc;
    handlers: [
        list_trips::list_trips,
        get_trip::get_trip,
        create_trip::create_trip,
        update_trip::replace_trip,
        update_trip::update_trip,
        delete_trip::delete_trip,
        similar_trips::similar_trips,
        favourite_trip::add_favourite,
        favourite_trip::remove_favourite,
        rate_trip::rate_trip,
        list_ratings::list_ratings,
        delete_rating::delete_rating,
        get_recommendations::get_recommendations,
        get_internal_trip::get_internal_trip,
        record_signal::record_signal,
        rebuild_model::rebuild_model,
    ]
}
