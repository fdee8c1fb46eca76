use actix_web::{HttpRequest, HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;
use shared::list::{ListQuery, ListSpec, Order};

use crate::context::ChatContext;
use crate::models::Conversation;
use crate::views::{self, ConversationView};

const SPEC: ListSpec = ListSpec::new(&["last_activity_at", "created_at", "id"], &[])
    .sorted_by("last_activity_at", Order::Desc);

/// `GET /v1/chat/conversations`: the caller's conversations (as traveller or expert),
/// most recently active first, with unread counts.
#[utoipa::path(get, path = "/v1/chat/conversations", tag = "chat", security(("bearer" = [])),
    params(("sortby" = Option<String>, Query, description = "last_activity_at (default), created_at or id"),
        ("order" = Option<String>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, description = "My conversations", body = shared::list::Page<ConversationView>),
        (status = 401, description = "Not signed in", body = shared::openapi::ErrorBody)))]
pub async fn list_conversations(
    ctx: web::Data<ChatContext>,
    who: Identity,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(&SPEC, req.query_string())?;
    let user_id = who.user_id;
    let page_query = query.clone();
    let (count, rows) = ctx
        .db()
        .run(move |conn| Ok(Conversation::list_for(conn, user_id, &page_query)?))
        .await?;
    let results = views::conversations(&ctx, user_id, rows).await;
    Ok(HttpResponse::Ok().json(query.page(req.path(), count, results)))
}
