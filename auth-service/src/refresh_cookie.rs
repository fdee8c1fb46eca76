//! The refresh token in a cookie, for browsers that ask for it.
//!
//! A web page should not hold its refresh token where script can read it. A client that
//! sends `X-Refresh-Token-Transport: cookie` with a login, a refresh or a WeChat exchange
//! gets the refresh token as an HttpOnly, `SameSite=Strict` cookie scoped to
//! `/v1/auth/refresh` (`Secure` over HTTPS) and a body without `refresh_token`.
//! `/v1/auth/refresh` then takes the token from that cookie when the body names none, but
//! only from a request that carries the header too: a page elsewhere cannot set it without
//! a CORS preflight, which nothing here answers, so the cookie alone never refreshes
//! (with `SameSite=Strict`, two locks on the same door). Logout and logout-all clear it.
//! API clients that send no header see the JSON API unchanged.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::{HttpRequest, HttpResponse};
use std::time::Duration;

use crate::tokens::TokenPair;

pub const COOKIE_NAME: &str = "wp_refresh";
pub const COOKIE_PATH: &str = "/v1/auth/refresh";
pub const HEADER: &str = "x-refresh-token-transport";

/// Whether the client asked for the refresh token in a cookie.
pub fn wanted(req: &HttpRequest) -> bool {
    req.headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("cookie"))
}

/// The refresh token from the cookie, for a client that asked for cookie transport.
pub fn token(req: &HttpRequest) -> Option<String> {
    if !wanted(req) {
        return None;
    }
    let cookie = req.cookie(COOKIE_NAME)?;
    Some(cookie.value().to_owned()).filter(|v| !v.is_empty())
}

/// The 200 answer carrying a new token pair: the refresh token stays in the body, or moves
/// into the cookie for a client that asked for that.
pub fn respond(req: &HttpRequest, mut pair: TokenPair, lifetime: Duration) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response.insert_header(crate::routes::no_store());
    if wanted(req)
        && let Some(token) = pair.refresh_token.take()
    {
        response.cookie(set(req, token, lifetime));
    }
    response.json(pair)
}

/// The cookie holding `token` for as long as a session may live.
pub fn set(req: &HttpRequest, token: String, lifetime: Duration) -> Cookie<'static> {
    build(
        req,
        token,
        time::Duration::seconds(lifetime.as_secs() as i64),
    )
}

/// The cookie that removes it.
pub fn clear(req: &HttpRequest) -> Cookie<'static> {
    build(req, String::new(), time::Duration::ZERO)
}

fn build(req: &HttpRequest, value: String, max_age: time::Duration) -> Cookie<'static> {
    Cookie::build(COOKIE_NAME, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.connection_info().scheme() == "https")
        .max_age(max_age)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_cookie_is_http_only_strict_and_scoped_to_refresh() {
        let req = TestRequest::default().to_http_request();
        let text = set(&req, "sid.1.mac".into(), Duration::from_secs(60)).to_string();
        for part in [
            "wp_refresh=sid.1.mac",
            "HttpOnly",
            "SameSite=Strict",
            "Path=/v1/auth/refresh",
            "Max-Age=60",
        ] {
            assert!(text.contains(part), "{text} lacks {part}");
        }
        assert!(!text.contains("Secure"), "{text}");
    }

    #[test]
    fn the_cookie_is_secure_behind_https() {
        let req = TestRequest::default()
            .insert_header(("x-forwarded-proto", "https"))
            .to_http_request();
        let text = set(&req, "t".into(), Duration::from_secs(60)).to_string();
        assert!(text.contains("Secure"), "{text}");
        assert!(clear(&req).to_string().contains("Max-Age=0"));
    }

    #[test]
    fn the_cookie_counts_only_with_the_header() {
        let cookie = Cookie::new(COOKIE_NAME, "sid.1.mac");
        let without = TestRequest::default()
            .cookie(cookie.clone())
            .to_http_request();
        assert_eq!(token(&without), None);
        let with = TestRequest::default()
            .cookie(cookie)
            .insert_header((HEADER, "Cookie"))
            .to_http_request();
        assert_eq!(token(&with).as_deref(), Some("sid.1.mac"));
        let empty = TestRequest::default()
            .cookie(Cookie::new(COOKIE_NAME, ""))
            .insert_header((HEADER, "cookie"))
            .to_http_request();
        assert_eq!(token(&empty), None);
    }
}
