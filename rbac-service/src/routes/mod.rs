//! The route table of rbac-service.

use actix_web::web;
use shared::http::resource;
use shared::{ApiError, Code};

mod health;
pub mod internal;
pub mod permissions;
pub mod resources;
pub mod roles;
pub mod user_roles;

pub fn config(cfg: &mut web::ServiceConfig) {
    shared::openapi::serve(cfg, <crate::openapi::ApiDoc as utoipa::OpenApi>::openapi());
    cfg.route("/healthz", web::get().to(shared::http::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .service(
            web::scope("/v1")
                .service(
                    resource("/resources")
                        .route(web::get().to(resources::list::list_resources))
                        .route(web::post().to(resources::create::create_resource)),
                )
                .service(
                    resource("/resources/{id}")
                        .route(web::get().to(resources::get::get_resource))
                        .route(web::put().to(resources::replace::replace_resource))
                        .route(web::patch().to(resources::update::update_resource))
                        .route(web::delete().to(resources::delete::delete_resource)),
                )
                .service(
                    resource("/permissions")
                        .route(web::get().to(permissions::list::list_permissions))
                        .route(web::post().to(permissions::create::create_permission)),
                )
                .service(
                    resource("/permissions/{id}")
                        .route(web::get().to(permissions::get::get_permission))
                        .route(web::delete().to(permissions::delete::delete_permission)),
                )
                .service(
                    resource("/roles")
                        .route(web::get().to(roles::list::list_roles))
                        .route(web::post().to(roles::create::create_role)),
                )
                .service(
                    resource("/roles/{id}")
                        .route(web::get().to(roles::get::get_role))
                        .route(web::patch().to(roles::update::update_role))
                        .route(web::delete().to(roles::delete::delete_role)),
                )
                .service(
                    resource("/roles/{id}/permissions")
                        .route(web::get().to(roles::list_permissions::list_role_permissions))
                        .route(web::post().to(roles::grant_permission::grant_permission)),
                )
                .service(
                    resource("/roles/{id}/permissions/{permission_id}")
                        .route(web::delete().to(roles::revoke_permission::revoke_permission)),
                )
                .service(
                    resource("/users/{id}/roles")
                        .route(web::get().to(user_roles::list::list_user_roles))
                        .route(web::post().to(user_roles::grant::grant_role)),
                )
                .service(
                    resource("/users/{id}/roles/{role_id}")
                        .route(web::delete().to(user_roles::revoke::revoke_role)),
                ),
        )
        .service(
            web::scope("/internal")
                .service(resource("/policy").route(web::get().to(internal::get_policy)))
                .service(
                    resource("/users/{id}/roles").route(web::get().to(internal::get_user_roles)),
                )
                .service(
                    resource("/roles/{name}/users")
                        .route(web::get().to(internal::get_role_members)),
                ),
        );
}

/// The 409 for what a built-in item (of the resource `name`) cannot undergo, saying why the
/// platform needs it.
pub fn built_in_conflict(code: Code, name: &str, refused: &str) -> ApiError {
    let why = crate::seed::built_in_because(name).unwrap_or("the platform needs it");
    ApiError::new(code, format!("{name:?} is built in ({why}): {refused}."))
}
