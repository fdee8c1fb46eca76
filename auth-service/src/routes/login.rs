use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shared::identity::ClientAddr;
use shared::{ApiError, Code};

use crate::context::AuthContext;
use crate::models::User;
use crate::passwords;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    account: String,
    password: String,
}

/// `POST /v1/auth/login`: a new session and its token pair.
///
/// A wrong account and a wrong password get the same 401 after the same work. A disabled
/// account is told so (403) only once the password is right.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "Signed in", body = crate::tokens::TokenPair),
        (status = 401, description = "Wrong account or password", body = shared::openapi::ErrorBody),
        (status = 403, description = "Account disabled", body = shared::openapi::ErrorBody),
        (status = 429, description = "Too many failed attempts", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn login(
    ctx: web::Data<AuthContext>,
    ClientAddr(ip): ClientAddr,
    req: HttpRequest,
    body: shared::json::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let result = sign_in(&ctx, ip, &req, body.into_inner()).await;
    ctx.metrics().login(&result);
    result
}

async fn sign_in(
    ctx: &AuthContext,
    ip: std::net::IpAddr,
    req: &HttpRequest,
    LoginRequest { account, password }: LoginRequest,
) -> Result<HttpResponse, ApiError> {
    let account = account.trim().to_ascii_lowercase();
    let reservation = ctx.throttle().reserve(&account, ip).await?;

    let lookup = account.clone();
    let user = ctx
        .db()
        .run(move |conn| Ok(User::find_by_account(conn, &lookup)?))
        .await?;
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    // Longer than the policy allows: cannot be right, and is not worth hashing.
    let valid = password.len() <= 4 * crate::domain::password_max_chars()
        && passwords::verify(password, hash).await?;
    let Some(user) = user.filter(|_| valid) else {
        return Err(ApiError::new(
            Code::InvalidCredentials,
            "Wrong account or password.",
        ));
    };
    tracing::Span::current().record("user_id", user.id);
    ctx.throttle().release(reservation).await;
    if user.is_disabled {
        return Err(ApiError::new(
            Code::AccountDisabled,
            "This account is disabled.",
        ));
    }

    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let pair = ctx
        .start_session(user.id, user_agent, &ip.to_string())
        .await?;
    let now = shared::time::now();
    ctx.db()
        .run(move |conn| Ok(User::record_login(conn, user.id, now)?))
        .await?;
    tracing::info!("signed in");
    let lifetime = ctx.sessions().absolute_lifetime();
    Ok(crate::refresh_cookie::respond(req, pair, lifetime))
}
