use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::ChatContext;
use crate::models::{Conversation, Message, MessageView};

/// `GET /v1/chat/conversations/{id}/messages/{message_id}`: one message.
#[utoipa::path(get, path = "/v1/chat/conversations/{id}/messages/{message_id}", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path), ("message_id" = i64, Path)),
    responses((status = 200, description = "The message", body = MessageView),
        (status = 404, description = "No such message in a conversation of yours", body = shared::openapi::ErrorBody)))]
pub async fn get_message(
    ctx: web::Data<ChatContext>,
    who: Identity,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (id, message_id) = path.into_inner();
    let user_id = who.user_id;
    let message = ctx
        .db()
        .run(move |conn| {
            Conversation::find_for(conn, id, user_id)?;
            Message::find(conn, id, message_id).map_err(|err| match err {
                diesel::result::Error::NotFound => ApiError::not_found("message"),
                other => other.into(),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(MessageView::from(message)))
}
