//! The `messages` table. A message's id is its position in its conversation (1, 2, 3, …),
//! allocated from the conversation row inside the sending transaction: the row lock (or
//! SQLite's single writer) orders concurrent senders, so ids are dense and a reader never
//! sees id n+1 committed before id n.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use shared::db::DbConnection;

use super::conversation::Side;
use crate::schema::{conversations, messages};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = messages)]
pub struct Message {
    pub conversation_id: i64,
    pub id: i64,
    pub sender_id: i64,
    pub body: String,
    pub client_msg_id: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = messages)]
struct NewMessage<'a> {
    conversation_id: i64,
    id: i64,
    sender_id: i64,
    body: &'a str,
    client_msg_id: Option<&'a str>,
    created_at: NaiveDateTime,
}

/// A message as the API and the socket show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    pub conversation_id: i64,
    /// Position in the conversation: 1, 2, 3, …
    pub id: i64,
    pub sender_id: i64,
    pub body: String,
    pub client_msg_id: Option<String>,
    #[serde(with = "shared::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
}

impl From<Message> for MessageView {
    fn from(m: Message) -> Self {
        Self {
            conversation_id: m.conversation_id,
            id: m.id,
            sender_id: m.sender_id,
            body: m.body,
            client_msg_id: m.client_msg_id,
            created_at: m.created_at,
        }
    }
}

/// What sending produced: the message, and whether it existed already (a retry).
#[derive(Debug, Clone)]
pub struct Appended {
    pub message: Message,
    pub duplicate: bool,
}

impl Message {
    /// Appends a message to a conversation (run inside a write transaction). A message the
    /// sender already sent with the same `client_msg_id` is returned instead.
    pub fn append(
        conn: &mut DbConnection,
        conversation_id: i64,
        side: Side,
        sender_id: i64,
        body: &str,
        client_msg_id: Option<&str>,
    ) -> QueryResult<Appended> {
        if let Some(key) = client_msg_id
            && let Some(message) = Self::find_by_client_id(conn, conversation_id, sender_id, key)?
        {
            return Ok(Appended {
                message,
                duplicate: true,
            });
        }
        let now = shared::time::now();
        let target = conversations::table.find(conversation_id);
        let next = conversations::last_message_id + 1;
        // Sending reads everything before it; the other side has one more unread.
        let id: i64 = match side {
            Side::Traveller => diesel::update(target)
                .set((
                    conversations::last_message_id.eq(next),
                    conversations::last_message_at.eq(now),
                    conversations::last_activity_at.eq(now),
                    conversations::traveller_last_read_id.eq(next),
                    conversations::traveller_unread.eq(0),
                    conversations::expert_unread.eq(conversations::expert_unread + 1),
                ))
                .returning(conversations::last_message_id)
                .get_result(conn)?,
            Side::Expert => diesel::update(target)
                .set((
                    conversations::last_message_id.eq(next),
                    conversations::last_message_at.eq(now),
                    conversations::last_activity_at.eq(now),
                    conversations::expert_last_read_id.eq(next),
                    conversations::expert_unread.eq(0),
                    conversations::traveller_unread.eq(conversations::traveller_unread + 1),
                ))
                .returning(conversations::last_message_id)
                .get_result(conn)?,
        };
        let new = NewMessage {
            conversation_id,
            id,
            sender_id,
            body,
            client_msg_id,
            created_at: now,
        };
        diesel::insert_into(messages::table)
            .values(&new)
            .execute(conn)?;
        Ok(Appended {
            message: Message {
                conversation_id,
                id,
                sender_id,
                body: body.to_owned(),
                client_msg_id: client_msg_id.map(str::to_owned),
                created_at: now,
            },
            duplicate: false,
        })
    }

    pub fn find(conn: &mut DbConnection, conversation_id: i64, id: i64) -> QueryResult<Message> {
        messages::table
            .find((conversation_id, id))
            .select(Message::as_select())
            .first(conn)
    }

    fn find_by_client_id(
        conn: &mut DbConnection,
        conversation_id: i64,
        sender_id: i64,
        key: &str,
    ) -> QueryResult<Option<Message>> {
        messages::table
            .filter(messages::conversation_id.eq(conversation_id))
            .filter(messages::sender_id.eq(sender_id))
            .filter(messages::client_msg_id.eq(key))
            .select(Message::as_select())
            .first(conn)
            .optional()
    }

    /// Up to `limit` messages with ids in (`after`, `before`), oldest first: the first ones
    /// after `after` when it is given, otherwise the last ones before `before` (or the
    /// latest ones when neither is).
    pub fn page(
        conn: &mut DbConnection,
        conversation_id: i64,
        before: Option<i64>,
        after: Option<i64>,
        limit: i64,
    ) -> QueryResult<Vec<Message>> {
        let mut query = messages::table
            .filter(messages::conversation_id.eq(conversation_id))
            .select(Message::as_select())
            .limit(limit)
            .into_boxed();
        if let Some(before) = before {
            query = query.filter(messages::id.lt(before));
        }
        if let Some(after) = after {
            return query
                .filter(messages::id.gt(after))
                .order(messages::id.asc())
                .load(conn);
        }
        let mut newest_first: Vec<Message> = query.order(messages::id.desc()).load(conn)?;
        newest_first.reverse();
        Ok(newest_first)
    }
}
