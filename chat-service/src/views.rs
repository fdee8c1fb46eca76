//! How conversations and experts look in the API: stored rows joined with names from
//! auth-service and presence from Redis. Names and presence are extras: when either source
//! is down the answer still comes, without them.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::context::ChatContext;
use crate::directory::Profile;
use crate::models::Conversation;

/// The other participant, as the caller sees them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CounterpartView {
    pub id: i64,
    /// `null` when auth-service cannot be asked.
    pub account: Option<String>,
    pub name: Option<String>,
    pub online: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationView {
    pub id: i64,
    pub traveller_id: i64,
    pub expert_id: i64,
    pub counterpart: CounterpartView,
    #[serde(with = "shared::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "shared::time::rfc3339_opt::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_message_at: Option<NaiveDateTime>,
    /// The newest message's id (0 before the first message); ids count 1, 2, 3, …
    pub last_message_id: i64,
    /// The caller's read marker.
    pub last_read_id: i64,
    /// Messages from the other participant after the caller's read marker.
    pub unread_count: i64,
}

/// An expert travellers can start a conversation with.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExpertView {
    pub id: i64,
    pub account: String,
    pub name: String,
    pub online: bool,
}

pub async fn conversations(
    ctx: &ChatContext,
    viewer: i64,
    rows: Vec<Conversation>,
) -> Vec<ConversationView> {
    let others: Vec<i64> = rows.iter().map(|c| c.counterpart_of(viewer)).collect();
    let (profiles, online) = tokio::join!(profiles(ctx, &others), online(ctx, &others));
    rows.into_iter()
        .zip(online)
        .map(|(c, online)| {
            let other = c.counterpart_of(viewer);
            let profile = profiles.get(&other);
            let marker = c.marker_of(viewer);
            ConversationView {
                id: c.id,
                traveller_id: c.traveller_id,
                expert_id: c.expert_id,
                counterpart: CounterpartView {
                    id: other,
                    account: profile.map(|p| p.account.clone()),
                    name: profile.map(|p| p.name.clone()),
                    online,
                },
                created_at: c.created_at,
                last_message_at: c.last_message_at,
                last_message_id: c.last_message_id,
                last_read_id: marker.last_read_id,
                unread_count: marker.unread,
            }
        })
        .collect()
}

pub async fn conversation(ctx: &ChatContext, viewer: i64, row: Conversation) -> ConversationView {
    let mut views = conversations(ctx, viewer, vec![row]).await;
    // One row in, one view out.
    views.remove(0)
}

async fn profiles(ctx: &ChatContext, ids: &[i64]) -> HashMap<i64, Profile> {
    ctx.directory().profiles(ids).await.unwrap_or_else(|err| {
        tracing::warn!(error = ?err, "names not available");
        HashMap::new()
    })
}

/// Whether each of `ids` is online (everyone offline when Redis cannot say).
pub async fn online(ctx: &ChatContext, ids: &[i64]) -> Vec<bool> {
    ctx.presence().online(ids).await.unwrap_or_else(|err| {
        tracing::warn!(error = %err, "presence not available");
        vec![false; ids.len()]
    })
}
