//! The route table of rbac-service.

use actix_web::web;
use shared::http::resource;
use shared::{ApiError, Code};

use crate::openapi::ApiDoc;

mod health;
pub mod internal;
pub mod permissions;
pub mod resources;
pub mod roles;
pub mod user_roles;

pub fn config(cfg: &mut web::ServiceConfig) {
    shared::openapi::serve(cfg, <ApiDoc as utoipa::OpenApi>::openapi());
    cfg.route("/healthz", web::get().to(shared::http::healthz))
        .route("/readyz", web::get().to(health::readyz));
    ApiDoc::routes(cfg);
    cfg.service(
        web::scope("/internal")
            .service(resource("/policy").route(web::get().to(internal::get_policy)))
            .service(resource("/users/{id}/roles").route(web::get().to(internal::get_user_roles)))
            .service(
                resource("/roles/{name}/users").route(web::get().to(internal::get_role_members)),
            ),
    );
}

/// The 409 for what a built-in item (of the resource `name`) cannot undergo, saying why the
/// platform needs it.
pub fn built_in_conflict(code: Code, name: &str, refused: &str) -> ApiError {
    let why = crate::seed::built_in_because(name).unwrap_or("the platform needs it");
    ApiError::new(code, format!("{name:?} is built in ({why}): {refused}."))
}
