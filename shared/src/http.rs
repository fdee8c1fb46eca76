//! The HTTP plumbing every service installs the same way.
//!
//! ```ignore
//! App::new()
//!     .wrap(shared::http::json_error_handlers())
//!     .wrap(actix_web::middleware::from_fn(shared::http::request_context))
//!     .configure(shared::http::configure)
//! ```
//! gives a span per request carrying the request id, `X-Request-Id` on every response,
//! JSON errors for malformed bodies, queries and paths, and a JSON 404 for unknown routes.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, QueryPayloadError, UrlencodedError};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, Next};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use tracing::Instrument;

use crate::error::{ApiError, Code, ErrorKind};

/// The request id a caller may send and every answer carries; read and set by the gateway
/// and every service (header names are lower case here, as HTTP compares them).
pub const REQUEST_ID: &str = "x-request-id";
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID);

/// A write's idempotency key: the gateway retries such a write on another replica
/// (`gateway::upstreams::safe_to_repeat`), payment-service answers a repeat with the first
/// order.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Largest JSON or form body a service accepts.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The id of the request being served: the caller's `X-Request-Id` when it is sane,
/// otherwise a fresh one.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = req.extensions().get::<RequestId>().cloned();
        std::future::ready(Ok(
            id.unwrap_or_else(|| RequestId(crate::random::token_hex(8)))
        ))
    }
}

/// Middleware: one span per request carrying the request id, the id echoed on the
/// response, and one log line per request with status and latency.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    in_context(req, |req| next.call(req)).await
}

/// [`request_context`] around `inner`, the rest of the request's handling.
pub(crate) async fn in_context<B: MessageBody + 'static>(
    req: ServiceRequest,
    inner: impl AsyncFnOnce(ServiceRequest) -> Result<ServiceResponse<B>, actix_web::Error>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let scope = crate::request::RequestScope::begin(
        req.app_data::<web::Data<crate::metrics::Metrics>>()
            .map_or("", |metrics| metrics.part()),
        req.app_data::<crate::otel::Spans>(),
        req.method().as_str(),
        req.path(),
        req.headers().get(X_REQUEST_ID).map(HeaderValue::as_bytes),
        req.headers()
            .get(crate::trace::TRACEPARENT)
            .map(HeaderValue::as_bytes),
    );
    req.extensions_mut()
        .insert(RequestId(scope.request_id.clone()));
    req.extensions_mut().insert(scope.trace.clone());
    // Handlers' errors arrive here already rendered; an `Err` can only come from another
    // middleware, and actix renders it after us.
    let work = inner(req).instrument(scope.span.clone());
    let mut response = crate::trace::scope(scope.trace.clone(), work)
        .await?
        .map_into_boxed_body();
    if let Ok(value) = HeaderValue::from_str(&scope.request_id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    let status = response.status().as_u16();
    let req = response.request();
    scope.finish(
        req.method().as_str(),
        || crate::metrics::route_label(req),
        status,
    );
    Ok(response)
}

/// Middleware that turns every error response without a JSON body (actix's 404, 405,
/// payload errors) into DESIGN's JSON error shape.
pub fn json_error_handlers<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(jsonify_error_response)
}

fn jsonify_error_response<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, old) = res.into_parts();
    let mut fresh = ApiError::from_kind(ErrorKind::from_status(status)).error_response();
    *fresh.status_mut() = status;
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    let res = ServiceResponse::new(req, fresh).map_into_right_body::<B>();
    Ok(ErrorHandlerResponse::Response(res))
}

/// Extractor error handlers and the JSON 404 for unknown routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(MAX_BODY_BYTES)
            .error_handler(|err, _| json_payload_error(err).into()),
    )
    .app_data(
        web::FormConfig::default()
            .limit(MAX_BODY_BYTES)
            .error_handler(|err, _| form_payload_error(err).into()),
    )
    .app_data(crate::json::payload_config())
    .app_data(web::QueryConfig::default().error_handler(|err, _| query_error(err).into()))
    .app_data(
        web::PathConfig::default().error_handler(|_, req| {
            ApiError::not_found(&format!("resource {}", req.path())).into()
        }),
    )
    .default_service(web::to(unknown_route));
}

/// A resource at `path` that answers 405 (not the app's 404) to methods it does not route.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        Code::MethodNotAllowed,
        format!("{} is not allowed on {}.", req.method(), req.path()),
    ))
}

/// Answers every request no route matched.
pub async fn unknown_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        Code::RouteNotFound,
        format!("No route for {} {}.", req.method(), req.path()),
    ))
}

fn json_payload_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::ContentType => ApiError::new(
            Code::UnsupportedMediaType,
            "Send the body as application/json.",
        ),
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::from_kind(ErrorKind::PayloadTooLarge)
        }
        JsonPayloadError::Deserialize(err) if err.is_data() => ApiError::validation(
            "body",
            err.to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned(),
        ),
        JsonPayloadError::Deserialize(err) => ApiError::new(
            Code::MalformedJson,
            format!("The body is not valid JSON: {err}."),
        ),
        other => ApiError::new(
            Code::MalformedBody,
            format!("Could not read the body: {other}."),
        ),
    }
}

fn form_payload_error(err: UrlencodedError) -> ApiError {
    match err {
        UrlencodedError::ContentType => ApiError::new(
            Code::UnsupportedMediaType,
            "Send the body as application/x-www-form-urlencoded.",
        ),
        UrlencodedError::Overflow { .. } => ApiError::from_kind(ErrorKind::PayloadTooLarge),
        other => ApiError::new(
            Code::MalformedForm,
            format!("Could not read the form: {other}."),
        ),
    }
}

fn query_error(err: QueryPayloadError) -> ApiError {
    ApiError::new(
        Code::InvalidQuery,
        format!("The query string is invalid: {err}."),
    )
}

/// Whether an `Accept` header admits a JSON answer (absent means anything goes).
pub fn accepts_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return true };
    // What clients send nearly always, answered without the copies below.
    if matches!(accept, "*/*" | "application/json") {
        return true;
    }
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            matches!(
                p.trim().replace(' ', "").as_str(),
                "q=0" | "q=0.0" | "q=0.00" | "q=0.000"
            )
        });
        !refused
            && (media == "*/*"
                || media == "application/*"
                || media == "application/json"
                || media.ends_with("+json"))
    })
}

/// `/healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(healthy())
}

/// The `/readyz` answer from the checks of a service's dependencies (and its supervised
/// tasks: [`crate::tasks::Tasks::checks_with`]).
pub fn readiness<S: AsRef<str>>(checks: &[(S, bool)]) -> HttpResponse {
    let (ready, body) = readiness_report(checks);
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        // Like every 503 here: when to ask again (a probe or a balancer backs off).
        HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, 1))
            .json(body)
    }
}

/// Whether every check passed, and `/readyz`'s body: `status` and each check `ok` or
/// `down`. Not ready is a 503 with `Retry-After: 1`.
pub fn readiness_report<S: AsRef<str>>(checks: &[(S, bool)]) -> (bool, serde_json::Value) {
    let ready = checks.iter().all(|(_, ok)| *ok);
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "unavailable" },
        "checks": checks.iter().map(|(name, ok)| (name.as_ref().to_owned(), serde_json::Value::from(if *ok { "ok" } else { "down" }))).collect::<serde_json::Map<_, _>>(),
    });
    (ready, body)
}

/// `/healthz`'s body.
pub fn healthy() -> serde_json::Value {
    serde_json::json!({ "status": "ok" })
}

/// A 201 with `Location` and the created record as the body.
pub fn created(location: String, body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, test};

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        email: String,
    }

    async fn echo(_: crate::json::Json<Body>) -> HttpResponse {
        HttpResponse::NoContent().finish()
    }

    macro_rules! app {
        () => {
            test::init_service(
                App::new()
                    .wrap(json_error_handlers())
                    .wrap(actix_web::middleware::from_fn(request_context))
                    .configure(configure)
                    .service(resource("/things").route(web::post().to(echo))),
            )
            .await
        };
    }

    #[actix_web::test]
    async fn malformed_json_is_a_400_and_a_wrong_shape_a_422_naming_the_field() {
        let app = app!();
        let cases = [
            ("{not json", 400, "malformed_json"),
            ("{\"email\": 5}", 422, "validation_failed"),
            ("{}", 422, "validation_failed"),
        ];
        for (body, status, code) in cases {
            let req = test::TestRequest::post()
                .uri("/things")
                .insert_header(("content-type", "application/json"))
                .set_payload(body)
                .to_request();
            let res = test::call_service(&app, req).await;
            assert_eq!(res.status().as_u16(), status, "{body}");
            let json: serde_json::Value = test::read_body_json(res).await;
            assert_eq!(json["error"]["code"], code, "{body}");
        }
    }

    #[actix_web::test]
    async fn unknown_routes_and_methods_answer_json_and_carry_the_request_id() {
        let app = app!();
        let req = test::TestRequest::get()
            .uri("/nowhere")
            .insert_header(("x-request-id", "abc-123"))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status().as_u16(), 404);
        assert_eq!(res.headers().get("x-request-id").unwrap(), "abc-123");
        let json: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(json["error"]["code"], "route_not_found");

        let req = test::TestRequest::get().uri("/things").to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status().as_u16(), 405);
        let json: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(json["error"]["code"], "method_not_allowed");
    }

    #[actix_web::test]
    async fn json_is_acceptable_unless_the_client_rules_it_out() {
        for accept in [
            None,
            Some("*/*"),
            Some("application/json"),
            Some("text/html, */*;q=0.8"),
            Some("application/*"),
            Some("application/problem+json"),
        ] {
            assert!(accepts_json(accept), "{accept:?}");
        }
        for accept in [
            Some("text/html"),
            Some("application/xml"),
            Some("application/json;q=0"),
            Some("image/png, text/plain"),
        ] {
            assert!(!accepts_json(accept), "{accept:?}");
        }
    }

    #[actix_web::test]
    async fn an_unsafe_request_id_is_replaced() {
        let app = app!();
        let req = test::TestRequest::get()
            .uri("/nowhere")
            .insert_header(("x-request-id", "a b\tc"))
            .to_request();
        let res = test::call_service(&app, req).await;
        let id = res.headers().get("x-request-id").unwrap().to_str().unwrap();
        assert_eq!(id.len(), 16);
        assert_ne!(id, "a b\tc");
    }
}
