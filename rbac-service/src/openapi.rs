//! rbac-service's OpenAPI description, served at `GET /openapi.json`, and the list of handlers
//! that routes/mod.rs routes from it.

use shared::openapi::BearerAuth;

use crate::routes::{permissions, resources, roles, user_roles};

shared::documented_api! {
    #[openapi(
        info(title = "Waypoint rbac-service", description = "Resources, permissions (route + method), roles and user roles."),
        modifiers(&BearerAuth),
        tags((name = "rbac", description = "Who may call which route with which method"))
    )]
    pub struct ApiDoc;
    handlers: [
        resources::list::list_resources,
        resources::create::create_resource,
        resources::get::get_resource,
        resources::replace::replace_resource,
        resources::update::update_resource,
        resources::delete::delete_resource,
        permissions::list::list_permissions,
        permissions::create::create_permission,
        permissions::get::get_permission,
        permissions::delete::delete_permission,
        roles::list::list_roles,
        roles::create::create_role,
        roles::get::get_role,
        roles::update::update_role,
        roles::delete::delete_role,
        roles::list_permissions::list_role_permissions,
        roles::grant_permission::grant_permission,
        roles::revoke_permission::revoke_permission,
        user_roles::list::list_user_roles,
        user_roles::grant::grant_role,
        user_roles::revoke::revoke_role,
    ]
}
