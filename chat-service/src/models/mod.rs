pub mod conversation;
pub mod message;

pub use conversation::{Conversation, NewConversation, Side};
pub use message::{Appended, Message, MessageView};
