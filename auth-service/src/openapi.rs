//! auth-service's OpenAPI description, served at `GET /openapi.json`, and the list of handlers
//! that routes/mod.rs routes from it.

use shared::openapi::BearerAuth;

use crate::routes::*;

shared::documented_api! {
    #[openapi(
        info(title = "Waypoint auth-service", description = "Users, sign-in, sessions and access tokens."),
        modifiers(&BearerAuth),
        tags((name = "auth", description = "Sign-up, sign-in and sessions"), (name = "users", description = "Accounts, for admins"),
            (name = "wechat", description = "Sign-in with WeChat (QR connect, OAuth 2.0)"))
    )]
    pub struct ApiDoc;
    handlers: [
        register::register,
        login::login,
        refresh::refresh,
        logout::logout,
        logout_all::logout_all,
        get_me::get_me,
        list_sessions::list_sessions,
        revoke_session::revoke_session,
        change_password::change_password,
        get_jwks::get_jwks,
        list_users::list_users,
        get_user::get_user,
        update_user::update_user,
        wechat::authorize::authorize,
        wechat::callback::callback,
        wechat::exchange::exchange,
        wechat::link::link,
        wechat::unlink::unlink,
    ]
}
