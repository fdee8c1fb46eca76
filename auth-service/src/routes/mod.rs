//! The route table of auth-service.

use actix_web::web;
use shared::http::resource;

pub mod change_password;
pub mod get_jwks;
pub mod get_me;
pub mod get_user;
mod health;
mod internal_users;
pub mod list_sessions;
pub mod list_users;
pub mod login;
pub mod logout;
pub mod logout_all;
pub mod refresh;
pub mod register;
pub mod revoke_session;
pub mod update_user;
pub mod wechat;

pub fn config(cfg: &mut web::ServiceConfig) {
    shared::openapi::serve(cfg, <crate::openapi::ApiDoc as utoipa::OpenApi>::openapi());
    cfg.route("/healthz", web::get().to(shared::http::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .service(
            web::scope("/v1/auth")
                .service(resource("/register").route(web::post().to(register::register)))
                .service(resource("/login").route(web::post().to(login::login)))
                .service(resource("/refresh").route(web::post().to(refresh::refresh)))
                .service(resource("/logout").route(web::post().to(logout::logout)))
                .service(resource("/logout-all").route(web::post().to(logout_all::logout_all)))
                .service(resource("/me").route(web::get().to(get_me::get_me)))
                .service(resource("/sessions").route(web::get().to(list_sessions::list_sessions)))
                .service(
                    resource("/sessions/{sid}")
                        .route(web::delete().to(revoke_session::revoke_session)),
                )
                .service(
                    resource("/password").route(web::put().to(change_password::change_password)),
                )
                .service(resource("/jwks.json").route(web::get().to(get_jwks::get_jwks)))
                .service(wechat_routes()),
        )
        .service(resource("/v1/users").route(web::get().to(list_users::list_users)))
        .service(
            resource("/v1/users/{id}")
                .route(web::get().to(get_user::get_user))
                .route(web::patch().to(update_user::update_user)),
        )
        .service(resource("/internal/users").route(web::get().to(internal_users::internal_users)));
}

fn wechat_routes() -> actix_web::Scope {
    use wechat::*;
    web::scope("/oauth/wechat")
        .service(resource("/authorize").route(web::get().to(authorize::authorize)))
        .service(resource("/callback").route(web::get().to(callback::callback)))
        .service(resource("/exchange").route(web::post().to(exchange::exchange)))
        .service(
            resource("/link")
                .route(web::post().to(link::link))
                .route(web::delete().to(unlink::unlink)),
        )
}

/// Token responses must never be cached by a browser or proxy.
pub(crate) fn no_store() -> (actix_web::http::header::HeaderName, &'static str) {
    (actix_web::http::header::CACHE_CONTROL, "no-store")
}
