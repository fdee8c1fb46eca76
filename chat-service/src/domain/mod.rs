//! Values that are valid by construction: parse at the edge, then trust.

mod body;
mod client_msg_id;

pub use body::MessageBody;
pub use client_msg_id::ClientMsgId;
