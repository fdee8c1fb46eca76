//! The gateway's one handler: canonicalise, route, authenticate, forward.

use actix_web::{HttpRequest, HttpResponse, web};
use shared::{ApiError, ErrorKind};

use crate::auth::{self, Caller};
use crate::client_ip;
use crate::path::canonicalize;
use crate::proxy::{self, Forwarding};
use crate::startup::GatewayState;

pub async fn gateway(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<GatewayState>,
    client: web::Data<reqwest::Client>,
) -> Result<HttpResponse, ApiError> {
    let path = canonicalize(req.path())?;
    let upstream = state.routes.find(&path).ok_or_else(|| {
        ApiError::new(
            ErrorKind::NotFound,
            "route_not_found",
            format!("No route for {} {path}.", req.method()),
        )
    })?;
    let caller = if state.public.allows(req.method(), &path) {
        None
    } else {
        Some(authenticate(&req, &state).await?)
    };
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
    let forwarded_for = req
        .headers()
        .get(actix_web::http::header::X_FORWARDED_FOR)
        .and_then(|v| v.to_str().ok());
    let forwarding = Forwarding {
        upstream,
        canonical_path: &path,
        client_ip: client_ip::resolve(forwarded_for, peer, state.trusted_proxies),
        caller: caller.as_ref(),
        internal_token: &state.internal_token,
    };
    if crate::websocket::is_upgrade(&req) {
        return crate::websocket::forward(&req, payload, forwarding).await;
    }
    proxy::forward(&client, &req, payload, forwarding).await
}

/// A valid access token whose session is live.
async fn authenticate(req: &HttpRequest, state: &GatewayState) -> Result<Caller, ApiError> {
    let token = auth::bearer_token(req)?;
    let caller = state.verifier.verify(token)?;
    state.sessions.check(&caller).await?;
    tracing::Span::current().record("user_id", caller.user_id);
    Ok(caller)
}

/// `/readyz`: Redis answers and the signing keys are loaded.
pub async fn readyz(state: web::Data<GatewayState>) -> HttpResponse {
    let redis = state.redis.ping().await;
    shared::http::readiness(&[("redis", redis), ("jwks", state.keys.is_loaded())])
}
