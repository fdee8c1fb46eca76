//! The fake directory: experts are ids 1,000,001…; everyone has a made-up name.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use crate::options::expert_id;

struct State {
    experts: Vec<i64>,
    token: String,
}

pub async fn serve(port: u16, pairs: usize, token: &str) -> anyhow::Result<()> {
    let state = web::Data::new(State {
        experts: (1..=pairs).map(expert_id).collect(),
        token: token.to_owned(),
    });
    HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/internal/roles/expert/users", web::get().to(role_holders))
            .route("/internal/users", web::get().to(profiles))
    })
    .workers(1)
    .bind(("127.0.0.1", port))?
    .run()
    .await?;
    Ok(())
}

fn trusted(req: &HttpRequest, state: &State) -> bool {
    req.headers()
        .get("x-waypoint-internal")
        .is_some_and(|v| v.as_bytes() == state.token.as_bytes())
}

async fn role_holders(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    if !trusted(&req, &state) {
        return HttpResponse::Forbidden().finish();
    }
    HttpResponse::Ok().json(json!({ "user_ids": state.experts }))
}

async fn profiles(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    if !trusted(&req, &state) {
        return HttpResponse::Forbidden().finish();
    }
    let ids = req
        .query_string()
        .strip_prefix("ids=")
        .unwrap_or_default()
        .split(',')
        .filter_map(|id| id.parse::<i64>().ok());
    let results: Vec<Value> = ids
        .map(|id| json!({ "id": id, "account": format!("u{id}"), "name": format!("User {id}") }))
        .collect();
    HttpResponse::Ok().json(json!({ "results": results }))
}
