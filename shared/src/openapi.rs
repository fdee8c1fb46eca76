//! OpenAPI descriptions. Every service derives its own from annotations on its handlers
//! (`#[utoipa::path]`) and types (`ToSchema`) and serves it at `GET /openapi.json` — a path
//! the gateway never routes; the gateway fetches each service's description and serves
//! the merged one at `/v1/openapi.json`. The same description routes the service: see
//! [`routes`].

use actix_web::{HttpResponse, web};
/// So that a crate without utoipa can read a service's description.
pub use utoipa::OpenApi;
pub use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, ToSchema};

pub mod routes;

/// DESIGN's error body, for `responses(...)` annotations.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: ErrorObject,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct ErrorObject {
    /// One of the error-code table's codes (`shared::error::Code`).
    code: crate::error::Code,
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

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    use super::*;
    use crate::error::Code;

    #[utoipa::path(get, path = "/v1/things", responses((status = 400, body = ErrorBody)))]
    #[allow(dead_code)]
    async fn list_things() {}

    #[test]
    fn an_error_response_documents_its_code_as_the_tables_enum() {
        #[derive(OpenApi)]
        #[openapi(paths(list_things))]
        struct Doc;
        let doc = serde_json::to_value(Doc::openapi()).unwrap();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["ErrorObject"]["properties"]["code"]["$ref"],
            "#/components/schemas/ErrorCode"
        );
        let listed: Vec<&str> = schemas["ErrorCode"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|code| code.as_str().unwrap())
            .collect();
        let table: Vec<&str> = Code::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(listed, table);
        let described = schemas["ErrorCode"]["description"].as_str().unwrap();
        assert!(
            described.contains("`wechat_code_used` (401): "),
            "{described}"
        );
    }
}
