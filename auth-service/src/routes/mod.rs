//! The route table of auth-service.

use actix_web::web;
use shared::http::resource;

mod change_password;
mod get_jwks;
mod get_me;
mod health;
mod list_sessions;
mod login;
mod logout;
mod logout_all;
mod refresh;
mod register;
mod revoke_session;

pub fn config(cfg: &mut web::ServiceConfig) {
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
                .service(resource("/jwks.json").route(web::get().to(get_jwks::get_jwks))),
        );
}

/// Token responses must never be cached by a browser or proxy.
pub(crate) fn no_store() -> (actix_web::http::header::HeaderName, &'static str) {
    (actix_web::http::header::CACHE_CONTROL, "no-store")
}
