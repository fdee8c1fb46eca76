//! The route table of chat-service.

use actix_web::web;
use shared::http::resource;

use crate::openapi::ApiDoc;

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
    shared::openapi::serve(cfg, <ApiDoc as utoipa::OpenApi>::openapi());
    cfg.route("/healthz", web::get().to(shared::http::healthz))
        .route("/readyz", web::get().to(health::readyz));
    ApiDoc::routes(cfg);
    cfg.service(resource("/internal/chat/stats").route(web::get().to(get_stats::get_stats)));
}
