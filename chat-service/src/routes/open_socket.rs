use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shared::identity::InternalCaller;
use shared::{ApiError, Code};

use crate::context::ChatContext;
use crate::ws::connection;

#[derive(Debug, Deserialize)]
pub struct SocketQuery {
    ticket: Option<String>,
}

/// `GET /v1/chat/ws?ticket=…`: the chat socket. The ticket is the credential (the route is
/// public at the gateway); it is checked, and spent, before the upgrade: a missing,
/// expired, reused or revoked ticket is a 401, an `Origin` that is not allowed a 403.
#[utoipa::path(get, path = "/v1/chat/ws", tag = "chat",
    params(("ticket" = String, Query, description = "From POST /v1/chat/ws-ticket")),
    responses((status = 101, description = "Switching to the chat socket (frames in the README)"),
        (status = 400, description = "Not a WebSocket handshake", body = shared::openapi::ErrorBody),
        (status = 401, description = "Missing, expired, used or revoked ticket", body = shared::openapi::ErrorBody),
        (status = 403, description = "Origin not allowed", body = shared::openapi::ErrorBody),
        (status = 429, description = "Too many sockets open for this user", body = shared::openapi::ErrorBody)))]
pub async fn open_socket(
    ctx: web::Data<ChatContext>,
    _gateway: InternalCaller,
    req: HttpRequest,
    query: web::Query<SocketQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_origin(&req, &ctx.socket_settings().allowed_origins)?;
    let (response, session, stream) = actix_ws::handle(&req, body).map_err(|_| {
        ApiError::new(
            Code::WebsocketRequired,
            "This endpoint speaks WebSocket: send an upgrade handshake.",
        )
    })?;
    let ticket = query.into_inner().ticket.ok_or_else(|| {
        ApiError::new(
            Code::MissingTicket,
            "Open the socket with ?ticket= from POST /v1/chat/ws-ticket.",
        )
    })?;
    let holder = ctx.tickets().redeem(&ticket).await?.ok_or_else(|| {
        ApiError::new(
            Code::InvalidTicket,
            "The ticket is unknown, expired or already used; get a new one.",
        )
    })?;
    if !ctx
        .sessions()
        .is_live(&holder.session_id, holder.user_id)
        .await?
    {
        return Err(ApiError::new(
            Code::SessionEnded,
            "The session has ended; sign in again.",
        ));
    }
    connection::accept(ctx.into_inner(), holder, response, session, stream).await
}

/// Browsers always send `Origin` on a WebSocket handshake, so a page from another site
/// cannot ride on a user's ticket; clients that are not browsers send none.
fn check_origin(req: &HttpRequest, allowed: &[String]) -> Result<(), ApiError> {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin
        .to_str()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_ascii_lowercase();
    if allowed.contains(&origin) {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::OriginNotAllowed,
            "This origin may not open the chat socket.",
        ))
    }
}
