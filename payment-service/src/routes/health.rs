use actix_web::{HttpResponse, web};

use crate::context::PaymentContext;

/// `/readyz`: the database and Redis both answer, and the background jobs run.
pub async fn readyz(ctx: web::Data<PaymentContext>) -> HttpResponse {
    let (db, redis) = tokio::join!(ctx.db().ping(), ctx.redis().ping());
    shared::http::readiness(&ctx.tasks.checks_with(&[("database", db), ("redis", redis)]))
}
