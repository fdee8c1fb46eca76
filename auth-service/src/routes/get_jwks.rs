use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::context::AuthContext;

/// `GET /v1/auth/jwks.json`: the public keys access tokens are verified with.
#[utoipa::path(get, path = "/v1/auth/jwks.json", tag = "auth",
    responses((status = 200, description = "JSON Web Key Set", body = Object)))]
pub async fn get_jwks(ctx: web::Data<AuthContext>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(ctx.tokens().jwks())
}
