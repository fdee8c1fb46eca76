//! OpenAPI descriptions. Every service derives its own from annotations on its handlers
//! (`#[utoipa::path]`) and types (`ToSchema`) and serves it at `GET /openapi.json` — a path
//! the gateway never routes; the gateway fetches each service's description and serves
//! the merged one at `/v1/openapi.json`.

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, ToSchema};

/// DESIGN's error body, for `responses(...)` annotations.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: ErrorObject,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct ErrorObject {
    /// Stable snake_case code, e.g. `validation_failed`.
    code: String,
    /// For people.
    message: String,
    /// e.g. `{"fields": {"email": "must be a valid e-mail address"}}` for a 422.
    #[schema(value_type = Object)]
    details: serde_json::Value,
}

/// Declares the `bearer` security scheme (`Authorization: Bearer <access token>`).
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Registers `GET /openapi.json` answering `doc`; a description that cannot be rendered
/// is a 500 naming the cause in the log, never an empty document.
pub fn serve(cfg: &mut web::ServiceConfig, doc: utoipa::openapi::OpenApi) {
    let json = doc.to_json().map_err(|err| err.to_string());
    cfg.route(
        "/openapi.json",
        web::get().to(move || {
            let json = json.clone();
            async move {
                match json {
                    Ok(json) => Ok(HttpResponse::Ok()
                        .content_type("application/json")
                        .body(json)),
                    Err(cause) => Err(crate::ApiError::internal(anyhow::anyhow!(
                        "rendering the OpenAPI description: {cause}"
                    ))),
                }
            }
        }),
    );
}
