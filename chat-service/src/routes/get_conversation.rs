use actix_web::{HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;

use crate::context::ChatContext;
use crate::models::Conversation;
use crate::views::{self, ConversationView};

/// `GET /v1/chat/conversations/{id}`: one of the caller's conversations (anyone else's is
/// a 404).
#[utoipa::path(get, path = "/v1/chat/conversations/{id}", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "The conversation", body = ConversationView),
        (status = 404, description = "No such conversation of yours", body = shared::openapi::ErrorBody)))]
pub async fn get_conversation(
    ctx: web::Data<ChatContext>,
    who: Identity,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let user_id = who.user_id;
    let conversation = ctx
        .db()
        .run(move |conn| Conversation::find_for(conn, id, user_id))
        .await?;
    Ok(HttpResponse::Ok().json(views::conversation(&ctx, user_id, conversation).await))
}
