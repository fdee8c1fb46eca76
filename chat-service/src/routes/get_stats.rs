use actix_web::{HttpResponse, web};
use shared::identity::InternalCaller;

use crate::context::ChatContext;

/// `GET /internal/chat/stats`: sockets and users connected to this replica.
pub async fn get_stats(ctx: web::Data<ChatContext>, _caller: InternalCaller) -> HttpResponse {
    let (sockets, users) = ctx.hub().counts();
    HttpResponse::Ok().json(serde_json::json!({
        "replica": ctx.hub().replica(),
        "sockets": sockets,
        "users": users,
    }))
}
