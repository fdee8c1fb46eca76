use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shared::ApiError;
use shared::identity::Identity;

use crate::chat;
use crate::context::ChatContext;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    /// Read up to this message; default the newest. A marker never moves back.
    pub last_read_id: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReadMarkerView {
    pub conversation_id: i64,
    pub last_read_id: i64,
    pub unread_count: i64,
}

/// `POST /v1/chat/conversations/{id}/read`: moves the caller's read marker forward; both
/// participants' sockets get a `read` frame.
#[utoipa::path(post, path = "/v1/chat/conversations/{id}/read", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body(content = Option<ReadBody>),
    responses((status = 200, description = "The caller's read marker", body = ReadMarkerView),
        (status = 404, description = "No such conversation of yours", body = shared::openapi::ErrorBody),
        (status = 422, description = "Beyond the newest message", body = shared::openapi::ErrorBody)))]
pub async fn mark_read(
    ctx: web::Data<ChatContext>,
    who: Identity,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let conversation_id = path.into_inner();
    // No body means "everything"; a body must be valid JSON.
    let upto = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        shared::json::parse::<ReadBody>(&body)?.last_read_id
    };
    let (_, marker) = chat::mark_read(&ctx, who.user_id, conversation_id, upto).await?;
    Ok(HttpResponse::Ok().json(ReadMarkerView {
        conversation_id,
        last_read_id: marker.last_read_id,
        unread_count: marker.unread,
    }))
}
