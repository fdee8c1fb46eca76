use actix_web::{HttpRequest, HttpResponse, web};
use shared::ApiError;
use shared::identity::Identity;
use shared::list::{ListQuery, ListSpec};

use crate::context::ChatContext;
use crate::views::{self, ExpertView};

const SPEC: ListSpec = ListSpec::new(&["id"], &["online"]);

/// `GET /v1/chat/experts`: the travel experts (holders of the `expert` role), with whether
/// each is online; `?online=true` lists only those who are.
#[utoipa::path(get, path = "/v1/chat/experts", tag = "chat", security(("bearer" = [])),
    params(("online" = Option<bool>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, description = "Experts by id", body = shared::list::Page<ExpertView>),
        (status = 401, description = "Not signed in", body = shared::openapi::ErrorBody),
        (status = 503, description = "The expert directory is unavailable", body = shared::openapi::ErrorBody)))]
pub async fn list_experts(
    ctx: web::Data<ChatContext>,
    _who: Identity,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(&SPEC, req.query_string())?;
    let only_online = query.filter_bool("online")?;
    let mut ids: Vec<i64> = ctx.directory().experts().await?.to_vec();
    if query.descending() {
        ids.reverse();
    }
    let mut presence: Option<Vec<bool>> = None;
    if let Some(wanted) = only_online {
        let online = views::online(&ctx, &ids).await;
        let kept: Vec<(i64, bool)> = ids
            .into_iter()
            .zip(online)
            .filter(|(_, online)| *online == wanted)
            .collect();
        ids = kept.iter().map(|(id, _)| *id).collect();
        presence = Some(kept.into_iter().map(|(_, online)| online).collect());
    }
    let count = ids.len() as i64;
    let start = (query.offset as usize).min(ids.len());
    let end = (start + query.limit as usize).min(ids.len());
    let page = &ids[start..end];
    let online = match presence {
        Some(all) => all[start..end].to_vec(),
        None => views::online(&ctx, page).await,
    };
    let profiles = ctx.directory().profiles(page).await?;
    let results: Vec<ExpertView> = page
        .iter()
        .zip(online)
        .filter_map(|(id, online)| {
            let profile = profiles.get(id)?;
            Some(ExpertView {
                id: *id,
                account: profile.account.clone(),
                name: profile.name.clone(),
                online,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(query.page(req.path(), count, results)))
}
