//! The route table of chat-service.

use actix_web::web;
use shared::http::resource;

pub mod create_conversation;
pub mod create_ws_ticket;
pub mod get_conversation;
pub mod get_message;
mod get_stats;
mod health;
pub mod list_conversations;
pub mod list_experts;
pub mod list_messages;
pub mod mark_read;
pub mod open_socket;
pub mod send_message;

pub fn config(cfg: &mut web::ServiceConfig) {
    shared::openapi::serve(cfg, <crate::openapi::ApiDoc as utoipa::OpenApi>::openapi());
    cfg.route("/healthz", web::get().to(shared::http::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .service(resource("/internal/chat/stats").route(web::get().to(get_stats::get_stats)))
        .service(
            web::scope("/v1/chat")
                .service(resource("/experts").route(web::get().to(list_experts::list_experts)))
                .service(
                    resource("/conversations")
                        .route(web::get().to(list_conversations::list_conversations))
                        .route(web::post().to(create_conversation::create_conversation)),
                )
                .service(
                    resource("/conversations/{id}")
                        .route(web::get().to(get_conversation::get_conversation)),
                )
                .service(
                    resource("/conversations/{id}/messages")
                        .route(web::get().to(list_messages::list_messages))
                        .route(web::post().to(send_message::send_message)),
                )
                .service(
                    resource("/conversations/{id}/messages/{message_id}")
                        .route(web::get().to(get_message::get_message)),
                )
                .service(
                    resource("/conversations/{id}/read")
                        .route(web::post().to(mark_read::mark_read)),
                )
                .service(
                    resource("/ws-ticket")
                        .route(web::post().to(create_ws_ticket::create_ws_ticket)),
                )
                .service(resource("/ws").route(web::get().to(open_socket::open_socket))),
        );
}
