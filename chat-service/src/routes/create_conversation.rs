use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shared::ApiError;
use shared::db::{is_unique_violation, write_transaction};
use shared::identity::Identity;
use shared::json::Json;

use crate::context::ChatContext;
use crate::models::{Conversation, NewConversation};
use crate::views::{self, ConversationView};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConversationBody {
    /// The expert to talk to (a holder of the `expert` role).
    pub expert_id: i64,
}

/// `POST /v1/chat/conversations`: opens the caller's conversation with an expert: 201 when
/// it is new, 200 with the existing one (there is one per traveller and expert).
#[utoipa::path(post, path = "/v1/chat/conversations", tag = "chat", security(("bearer" = [])),
    request_body = NewConversationBody,
    responses((status = 201, description = "Started", body = ConversationView),
        (status = 200, description = "Already open", body = ConversationView),
        (status = 422, description = "Not an expert, or yourself", body = shared::openapi::ErrorBody),
        (status = 503, description = "The expert directory is unavailable", body = shared::openapi::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = who.user_id))]
pub async fn create_conversation(
    ctx: web::Data<ChatContext>,
    who: Identity,
    body: Json<NewConversationBody>,
) -> Result<HttpResponse, ApiError> {
    let expert_id = body.expert_id;
    if expert_id == who.user_id {
        return Err(ApiError::validation(
            "expert_id",
            "cannot start a conversation with yourself",
        ));
    }
    if !ctx.directory().is_expert(expert_id).await? {
        return Err(ApiError::validation("expert_id", "is not a travel expert"));
    }
    let traveller_id = who.user_id;
    let (conversation, created) = ctx
        .db()
        .run(move |conn| {
            if let Some(existing) = Conversation::find_pair(conn, traveller_id, expert_id)? {
                return Ok((existing, false));
            }
            let now = shared::time::now();
            let new = NewConversation {
                traveller_id,
                expert_id,
                created_at: now,
                last_activity_at: now,
            };
            match write_transaction(conn, |conn| Conversation::insert(conn, &new)) {
                Ok(conversation) => Ok((conversation, true)),
                // Opened by a concurrent request a moment ago.
                Err(err) if is_unique_violation(&err) => {
                    let existing = Conversation::find_pair(conn, traveller_id, expert_id)?
                        .ok_or_else(|| ApiError::internal(err))?;
                    Ok((existing, false))
                }
                Err(err) => Err(err.into()),
            }
        })
        .await?;
    let id = conversation.id;
    let view = views::conversation(&ctx, who.user_id, conversation).await;
    Ok(if created {
        shared::http::created(format!("/v1/chat/conversations/{id}"), view)
    } else {
        HttpResponse::Ok().json(view)
    })
}
