//! Authentication at the edge: a bearer JWT verified locally, then its session checked
//! (and its idle timeout slid) in Redis, in one round trip, or in the session state held
//! in process (see [`cache`]).

pub mod cache;
pub mod jwks;
pub mod session;
pub mod verifier;

use actix_web::HttpRequest;
use actix_web::http::header;
use shared::{ApiError, Code};

/// The caller, once token and session check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: i64,
    pub session_id: String,
}

/// Whether the request sends credentials (checked even where none are needed).
pub fn sends_credentials(req: &HttpRequest) -> bool {
    req.headers().contains_key(header::AUTHORIZATION)
}

/// The bearer token of the `Authorization` header (never a query parameter: URLs end up
/// in logs and browser history).
pub fn bearer_token(req: &HttpRequest) -> Result<&str, ApiError> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::new(
            Code::MissingToken,
            "Sign in: send Authorization: Bearer <token>.",
        )
    })?;
    let value = value
        .to_str()
        .map_err(|_| invalid_token("The Authorization header is not readable."))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| invalid_token("Use Authorization: Bearer <token>."))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(invalid_token("Use Authorization: Bearer <token>."));
    }
    Ok(token.trim())
}

pub fn invalid_token(message: &'static str) -> ApiError {
    ApiError::new(Code::InvalidToken, message)
}
