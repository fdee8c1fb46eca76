//! The route table of auth-service.

use actix_web::web;
use shared::http::resource;

use crate::openapi::ApiDoc;

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
    shared::openapi::serve(cfg, <ApiDoc as utoipa::OpenApi>::openapi());
    cfg.route("/healthz", web::get().to(shared::http::healthz))
        .route("/readyz", web::get().to(health::readyz));
    ApiDoc::routes(cfg);
    cfg.service(resource("/internal/users").route(web::get().to(internal_users::internal_users)));
}

/// Token responses must never be cached by a browser or proxy.
pub(crate) fn no_store() -> (actix_web::http::header::HeaderName, &'static str) {
    (actix_web::http::header::CACHE_CONTROL, "no-store")
}
