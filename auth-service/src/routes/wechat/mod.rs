//! The WeChat sign-in routes; the flow is described in [`crate::wechat`].

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

pub mod authorize;
pub mod callback;
pub mod exchange;
pub mod link;
pub mod unlink;

/// A browser redirect that no cache keeps and that leaks no referrer.
fn redirect(location: &str) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Found();
    response
        .insert_header((header::LOCATION, location))
        .insert_header(super::no_store())
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    response
}

fn user_agent(req: &HttpRequest) -> &str {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}
