//! What both the REST routes and the socket do: store, then tell everyone concerned.
//!
//! The database commit comes first and is the answer to the sender; the fan-out after it
//! is best effort (a lost publish is recovered from the database by the receiving sockets).

use shared::ApiError;
use shared::db::write_transaction;

use crate::context::ChatContext;
use crate::domain::{ClientMsgId, MessageBody};
use crate::models::conversation::ReadMarker;
use crate::models::{Appended, Conversation};
use crate::ws::frames::ServerFrame;

/// Stores a message from `sender` (a participant); it is pushed to both participants.
pub async fn send_message(
    ctx: &ChatContext,
    sender: i64,
    conversation_id: i64,
    body: MessageBody,
    client_msg_id: Option<ClientMsgId>,
) -> Result<Appended, ApiError> {
    ctx.writer()
        .append(sender, conversation_id, body, client_msg_id)
        .await
}

/// Moves `reader`'s read marker forward and tells both participants.
pub async fn mark_read(
    ctx: &ChatContext,
    reader: i64,
    conversation_id: i64,
    upto: Option<i64>,
) -> Result<(Conversation, ReadMarker), ApiError> {
    let (conversation, marker) = ctx
        .db()
        .run(move |conn| {
            write_transaction(conn, |conn| {
                Conversation::lock(conn, conversation_id)?;
                let conversation = Conversation::find_for(conn, conversation_id, reader)?;
                if let Some(upto) = upto
                    && upto > conversation.last_message_id
                {
                    return Err(ApiError::validation(
                        "last_read_id",
                        format!(
                            "is beyond the newest message ({})",
                            conversation.last_message_id
                        ),
                    ));
                }
                let upto = upto.unwrap_or(conversation.last_message_id);
                let marker = Conversation::mark_read(conn, &conversation, reader, upto)?;
                Ok((conversation, marker))
            })
        })
        .await?;
    let frame = ServerFrame::Read {
        conversation_id,
        user_id: reader,
        last_read_id: marker.last_read_id,
    };
    publish(ctx, &conversation.participants(), &frame).await;
    Ok((conversation, marker))
}

/// Tells the people `user_id` has conversations with that they came online or went offline.
pub async fn announce_presence(ctx: &ChatContext, user_id: i64, online: bool) {
    let counterparts = ctx
        .db()
        .run(move |conn| Ok(Conversation::counterparts_of(conn, user_id)?))
        .await;
    match counterparts {
        Ok(users) if !users.is_empty() => {
            publish(ctx, &users, &ServerFrame::Presence { user_id, online }).await;
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, user_id, "presence not announced"),
    }
}

async fn publish(ctx: &ChatContext, users: &[i64], frame: &ServerFrame<'_>) {
    if let Err(err) = ctx.fanout().publish(users, &frame.to_text()).await {
        // Stored anyway; sockets catch up from the database.
        tracing::warn!(error = %err, "fan-out failed");
    }
}
