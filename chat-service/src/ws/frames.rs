//! The JSON frames of the chat socket (the README documents them).
//!
//! Every frame is a JSON object whose `type` names it. Client → server: `send`, `resume`,
//! `read`. Server → client: `ack`, `message`, `read`, `presence`, `resumed`, `error`.

use serde::{Deserialize, Serialize};

use crate::models::MessageView;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Post a message; answered by `ack` once it is stored (or `error`).
    Send {
        conversation_id: i64,
        body: String,
        client_msg_id: String,
    },
    /// Send me every message of the conversation after id `after`, in order, then `resumed`.
    Resume { conversation_id: i64, after: i64 },
    /// I have read up to `last_read_id` (default: everything).
    Read {
        conversation_id: i64,
        #[serde(default)]
        last_read_id: Option<i64>,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    /// The message with this `client_msg_id` is stored as `id` (`duplicate`: it already was).
    Ack {
        client_msg_id: &'a str,
        conversation_id: i64,
        id: i64,
        created_at: String,
        duplicate: bool,
    },
    /// A message in one of my conversations (including my own, for my other tabs).
    Message(&'a MessageView),
    /// `user_id` has read `conversation_id` up to `last_read_id`.
    Read {
        conversation_id: i64,
        user_id: i64,
        last_read_id: i64,
    },
    /// Someone I have a conversation with came online or went offline.
    Presence { user_id: i64, online: bool },
    /// The messages a `resume` asked for have all been sent; `last_id` is the newest.
    Resumed {
        conversation_id: i64,
        last_id: i64,
        count: usize,
    },
    /// A frame could not be handled; `client_msg_id` names the `send` it answers, if any.
    Error {
        code: &'a str,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<&'a str>,
    },
}

impl ServerFrame<'_> {
    pub fn to_text(&self) -> String {
        // Serialising these plain structs cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What the fan-out needs to know of a frame it carries: which message it is, if any.
#[derive(Debug, Default, Deserialize)]
pub struct FramePeek {
    #[serde(rename = "type")]
    pub kind: String,
    pub conversation_id: Option<i64>,
    pub id: Option<i64>,
}

impl FramePeek {
    /// (conversation, message id) for `message` frames, which the socket puts in order.
    pub fn sequence(text: &str) -> Option<(i64, i64)> {
        let peek: FramePeek = serde_json::from_str(text).ok()?;
        match (peek.kind.as_str(), peek.conversation_id, peek.id) {
            ("message", Some(conversation), Some(id)) => Some((conversation, id)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn client_frames_parse_from_the_documented_json() {
        let cases = [
            (
                json!({"type": "send", "conversation_id": 3, "body": "hi", "client_msg_id": "c1"}),
                ClientFrame::Send {
                    conversation_id: 3,
                    body: "hi".into(),
                    client_msg_id: "c1".into(),
                },
            ),
            (
                json!({"type": "resume", "conversation_id": 3, "after": 10}),
                ClientFrame::Resume {
                    conversation_id: 3,
                    after: 10,
                },
            ),
            (
                json!({"type": "read", "conversation_id": 3}),
                ClientFrame::Read {
                    conversation_id: 3,
                    last_read_id: None,
                },
            ),
        ];
        for (text, frame) in cases {
            assert_eq!(
                serde_json::from_value::<ClientFrame>(text.clone()).unwrap(),
                frame,
                "{text}"
            );
        }
    }

    #[test]
    fn unknown_types_and_fields_are_refused() {
        for text in [
            json!({"type": "shout"}),
            json!({"type": "resume", "conversation_id": 3}),
            json!({"type": "resume", "conversation_id": 3, "after": 1, "extra": 1}),
            json!({"conversation_id": 3}),
        ] {
            assert!(
                serde_json::from_value::<ClientFrame>(text.clone()).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn message_frames_are_flat_and_carry_their_sequence() {
        let view = MessageView {
            conversation_id: 7,
            id: 42,
            sender_id: 1,
            body: "hello".into(),
            client_msg_id: Some("c1".into()),
            created_at: chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc(),
        };
        let text = ServerFrame::Message(&view).to_text();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["type"], "message");
        assert_eq!(value["body"], "hello");
        assert_eq!(value["created_at"], "1970-01-01T00:00:00Z");
        assert_eq!(FramePeek::sequence(&text), Some((7, 42)));
        let presence = ServerFrame::Presence {
            user_id: 1,
            online: true,
        };
        assert_eq!(FramePeek::sequence(&presence.to_text()), None);
    }
}
