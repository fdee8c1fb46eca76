//! The API: `/v1/openapi.json` (every service's description, merged) and `/docs`, a page
//! rendering it with Swagger UI. The page's assets come from the `swagger-ui-dist` npm
//! package installed under `DOCS_DIR` (`npm ci` in `docs/`), so the page works offline.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::StatusCode;
use hyper::header::{self, HeaderValue};
use shared::replicas::Replicas;
use shared::{ApiError, Code};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};

use crate::body::{self, Answer};
use crate::startup::GatewayState;

const FRESH_FOR: Duration = Duration::from_secs(30);

/// Assets the page may load, with their content types.
const ASSETS: &[(&str, &str)] = &[
    ("swagger-ui.css", "text/css; charset=utf-8"),
    (
        "swagger-ui-bundle.js",
        "application/javascript; charset=utf-8",
    ),
    ("favicon-32x32.png", "image/png"),
];

pub struct ApiDocs {
    upstreams: Vec<Arc<Replicas>>,
    assets_dir: PathBuf,
    cached: Mutex<Option<(Instant, String)>>,
}

impl ApiDocs {
    pub fn new(upstreams: Vec<Arc<Replicas>>, docs_dir: PathBuf) -> Self {
        Self {
            upstreams,
            assets_dir: docs_dir.join("node_modules/swagger-ui-dist"),
            cached: Mutex::new(None),
        }
    }

    async fn merged(&self, client: &reqwest::Client) -> Result<String, ApiError> {
        if let Some((at, json)) = self.cached.lock().ok().and_then(|c| c.clone())
            && at.elapsed() < FRESH_FOR
        {
            return Ok(json);
        }
        let fetches = self.upstreams.iter().map(|replicas| async move {
            let fetched = async {
                crate::upstreams::get(replicas, client, "/openapi.json", Duration::from_secs(3))
                    .await?
                    .error_for_status()?
                    .json::<OpenApi>()
                    .await
            };
            (replicas, fetched.await)
        });
        let mut merged = OpenApiBuilder::new()
            .info(
                InfoBuilder::new()
                    .title("Waypoint API")
                    .version("v1")
                    .description(Some("Every service of Waypoint, as the gateway routes it. Errors share one shape: {\"error\": {\"code\", \"message\", \"details\"}}."))
                    .build(),
            )
            .build();
        let mut complete = true;
        for (base, result) in futures_util::future::join_all(fetches).await {
            match result {
                Ok(description) => merged.merge(description),
                Err(err) => {
                    complete = false;
                    tracing::warn!(upstream = %base, error = %err, "no API description from this service");
                }
            }
        }
        // Service-to-service routes are documented for their callers, not for the public:
        // the gateway never routes them.
        merged
            .paths
            .paths
            .retain(|path, _| !path.starts_with("/internal/"));
        let json = merged.to_json().map_err(ApiError::internal)?;
        if complete && let Ok(mut cached) = self.cached.lock() {
            *cached = Some((Instant::now(), json.clone()));
        }
        Ok(json)
    }
}

/// `GET /v1/openapi.json`
pub async fn openapi(state: &GatewayState, client: &reqwest::Client) -> Answer {
    match state.docs.merged(client).await {
        Ok(json) => body::with_content_type(StatusCode::OK, "application/json", json),
        Err(err) => body::error(&err),
    }
}

/// `GET /docs`
pub fn page() -> Answer {
    body::with_content_type(
        StatusCode::OK,
        "text/html; charset=utf-8",
        include_str!("docs.html"),
    )
}

/// `GET /docs/assets/{file}`
pub async fn asset(state: &GatewayState, file: &str) -> Answer {
    asset_file(state, file)
        .await
        .unwrap_or_else(|err| body::error(&err))
}

async fn asset_file(state: &GatewayState, file: &str) -> Result<Answer, ApiError> {
    if file == "docs-init.js" {
        return Ok(body::with_content_type(
            StatusCode::OK,
            "application/javascript; charset=utf-8",
            include_str!("docs-init.js"),
        ));
    }
    let Some((name, content_type)) = ASSETS.iter().find(|(name, _)| *name == file) else {
        return Err(ApiError::not_found("asset"));
    };
    let bytes = tokio::fs::read(state.docs.assets_dir.join(name))
        .await
        .map_err(|_| {
            ApiError::new(
                Code::DocsNotInstalled,
                "The docs assets are not installed: run `npm ci` in docs/.",
            )
        })?;
    let mut answer = body::with_content_type(StatusCode::OK, content_type, bytes);
    answer.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    Ok(answer)
}
