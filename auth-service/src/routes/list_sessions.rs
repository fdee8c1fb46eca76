use actix_web::{HttpRequest, HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;
use shared::list::{ListQuery, ListSpec};

use crate::context::AuthContext;
use crate::sessions::SessionView;

const SPEC: ListSpec = ListSpec::new(&[], &[]);

#[utoipa::path(get, path = "/v1/auth/sessions", tag = "auth", security(("bearer" = [])),
    params(("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, description = "Live sessions, newest first", body = shared::list::Page<SessionView>),
        (status = 401, description = "Not signed in", body = shared::openapi::ErrorBody)))]
/// `GET /v1/auth/sessions`: the user's live sessions, newest first; `current` marks this one.
pub async fn list_sessions(
    ctx: web::Data<AuthContext>,
    who: Identity,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(&SPEC, req.query_string())?;
    let sessions = ctx.sessions().list(who.user_id, &who.session_id).await?;
    let count = sessions.len() as i64;
    let results = sessions
        .into_iter()
        .skip(query.offset as usize)
        .take(query.limit as usize)
        .collect();
    Ok(HttpResponse::Ok().json(query.page(req.path(), count, results)))
}
