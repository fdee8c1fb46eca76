//! What both the REST routes and the socket do: store, then tell everyone concerned.
//!
//! The database commit comes first and is the answer to the sender; the fan-out after it
//! is best effort (a lost publish is recovered from the database by the receiving sockets).

use diesel::result::Error as DieselError;
use shared::ApiError;
use shared::db::write_transaction;

use crate::context::ChatContext;
use crate::domain::{ClientMsgId, MessageBody};
use crate::models::conversation::ReadMarker;
use crate::models::{Appended, Conversation, Message, MessageView};
use crate::ws::frames::ServerFrame;

/// Stores a message from `sender` (a participant) and pushes it to both participants.
#[tracing::instrument(skip_all, fields(conversation_id, sender))]
pub async fn send_message(
    ctx: &ChatContext,
    sender: i64,
    conversation_id: i64,
    body: MessageBody,
    client_msg_id: Option<ClientMsgId>,
) -> Result<(Conversation, Appended), ApiError> {
    let (conversation, appended) = ctx
        .db()
        .run(move |conn| {
            // Two sends with the same new client_msg_id racing on PostgreSQL: the loser's
            // insert violates the unique index; retried, it finds the winner's message.
            let mut attempts = 0;
            loop {
                attempts += 1;
                let result = write_transaction(conn, |conn| {
                    let conversation = Conversation::find_for(conn, conversation_id, sender)?;
                    let side = conversation
                        .side_of(sender)
                        .ok_or_else(|| ApiError::not_found("conversation"))?;
                    let appended = Message::append(
                        conn,
                        conversation_id,
                        side,
                        sender,
                        body.as_str(),
                        client_msg_id.as_ref().map(ClientMsgId::as_str),
                    )
                    .map_err(Retry::from)?;
                    Ok::<_, Retry>((conversation, appended))
                });
                match result {
                    Err(Retry::Conflict(_)) if attempts < 3 => continue,
                    Err(Retry::Conflict(err)) => return Err(ApiError::from(err)),
                    Err(Retry::Api(err)) => return Err(err),
                    Ok(done) => return Ok(done),
                }
            }
        })
        .await?;
    if !appended.duplicate {
        let view = MessageView::from(appended.message.clone());
        publish(
            ctx,
            &conversation.participants(),
            &ServerFrame::Message(&view),
        )
        .await;
    }
    Ok((conversation, appended))
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

/// A failure inside the sending transaction: a unique-index race worth one more try, or
/// an answer for the client.
enum Retry {
    Conflict(DieselError),
    Api(ApiError),
}

impl From<DieselError> for Retry {
    fn from(err: DieselError) -> Self {
        if shared::db::is_unique_violation(&err) {
            Retry::Conflict(err)
        } else {
            Retry::Api(err.into())
        }
    }
}

impl From<ApiError> for Retry {
    fn from(err: ApiError) -> Self {
        Retry::Api(err)
    }
}
