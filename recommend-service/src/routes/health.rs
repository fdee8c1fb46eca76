use actix_web::{HttpResponse, web};

use crate::context::RecommendContext;

/// `/readyz`: the database and Redis both answer, and the model rebuild loop runs.
pub async fn readyz(ctx: web::Data<RecommendContext>) -> HttpResponse {
    let (db, redis) = tokio::join!(ctx.db().ping(), ctx.redis().ping());
    shared::http::readiness(&ctx.tasks.checks_with(&[("database", db), ("redis", redis)]))
}
