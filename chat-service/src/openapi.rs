//! chat-service's OpenAPI description, served at `GET /openapi.json`, and the list of handlers
//! that routes/mod.rs routes from it. The socket's frames
//! are documented in the README.

use shared::openapi::BearerAuth;

use crate::routes::*;

shared::documented_api! {
    #[openapi(
        info(title = "Waypoint chat-service", description = "Live chat between travellers and travel experts: conversations, messages, read markers and the chat socket."),
        modifiers(&BearerAuth),
        tags((name = "chat", description = "Conversations, messages and the chat socket"))
    )]
    pub struct ApiDoc;
    handlers: [
        list_experts::list_experts,
        create_conversation::create_conversation,
        list_conversations::list_conversations,
        get_conversation::get_conversation,
        list_messages::list_messages,
        send_message::send_message,
        get_message::get_message,
        mark_read::mark_read,
        create_ws_ticket::create_ws_ticket,
        open_socket::open_socket,
    ]
}
