use actix_web::{HttpResponse, web};
use serde::Serialize;
use shared::ApiError;
use shared::identity::Identity;

use crate::context::ChatContext;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TicketView {
    /// Open the socket with `GET /v1/chat/ws?ticket=<this>` within `expires_in` seconds;
    /// it works once.
    pub ticket: String,
    pub expires_in: u64,
}

/// `POST /v1/chat/ws-ticket`: a single-use ticket to open the chat socket with (browsers
/// cannot send an `Authorization` header on a WebSocket, and an access token does not
/// belong in a URL). The ticket is bound to the caller's session.
#[utoipa::path(post, path = "/v1/chat/ws-ticket", tag = "chat", security(("bearer" = [])),
    responses((status = 200, description = "A fresh ticket", body = TicketView),
        (status = 401, description = "Not signed in", body = shared::openapi::ErrorBody)))]
pub async fn create_ws_ticket(
    ctx: web::Data<ChatContext>,
    who: Identity,
) -> Result<HttpResponse, ApiError> {
    let ticket = ctx.tickets().issue(who.user_id, &who.session_id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(TicketView {
            ticket,
            expires_in: ctx.tickets().ttl().as_secs(),
        }))
}
