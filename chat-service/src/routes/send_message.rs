use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::ApiError;
use shared::identity::Identity;
use shared::json::Json;

use crate::chat;
use crate::context::ChatContext;
use crate::domain::{ClientMsgId, MessageBody};
use crate::models::MessageView;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessageBody {
    /// 1–4,000 characters.
    pub body: String,
    /// Optional idempotency key: sending again with the same key returns the first message.
    pub client_msg_id: Option<String>,
}

/// `POST /v1/chat/conversations/{id}/messages`: sends a message without a socket. 201 with
/// the message (pushed to both participants' sockets); 200 with the earlier one when
/// `client_msg_id` was used before.
#[utoipa::path(post, path = "/v1/chat/conversations/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = NewMessageBody,
    responses((status = 201, description = "Sent", body = MessageView),
        (status = 200, description = "Sent before with this client_msg_id", body = MessageView),
        (status = 404, description = "No such conversation of yours", body = shared::openapi::ErrorBody),
        (status = 422, description = "Invalid body or client_msg_id", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = who.user_id))]
pub async fn send_message(
    ctx: web::Data<ChatContext>,
    who: Identity,
    path: web::Path<i64>,
    body: Json<NewMessageBody>,
) -> Result<HttpResponse, ApiError> {
    let NewMessageBody {
        body,
        client_msg_id,
    } = body.into_inner();
    let mut invalid = Vec::new();
    let body = MessageBody::parse(body).map_err(|why| invalid.push(("body".to_owned(), why)));
    let key = client_msg_id
        .map(ClientMsgId::parse)
        .transpose()
        .map_err(|why| invalid.push(("client_msg_id".to_owned(), why)));
    let (Ok(body), Ok(key)) = (body, key) else {
        return Err(ApiError::validation_fields(invalid));
    };
    let conversation_id = path.into_inner();
    let appended = chat::send_message(&ctx, who.user_id, conversation_id, body, key).await?;
    let view = MessageView::from(appended.message);
    Ok(if appended.duplicate {
        HttpResponse::Ok().json(view)
    } else {
        let location = format!(
            "/v1/chat/conversations/{conversation_id}/messages/{}",
            view.id
        );
        shared::http::created(location, view)
    })
}
