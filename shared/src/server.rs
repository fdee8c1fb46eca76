//! What every service's HTTP server is built from, so each `startup.rs` only says what is
//! particular to it.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, web};

use crate::config::Secret;
use crate::error::{ApiError, Code};
use crate::identity::InternalToken;

/// How long an idle keep-alive connection stays open. Longer than the idle timeout of the
/// pools that call us (nginx's upstream keepalive and the gateway's client: 60 s), so the
/// caller always closes first: were we to close first, a request sent on the connection at
/// that moment would fail, and a proxy does not retry a POST (a 502 for the user).
pub const KEEP_ALIVE: Duration = Duration::from_secs(75);

/// A service's app: every request measured (latency by route template, method and
/// status class; in flight), every error in the JSON shape, a span and request id per
/// request, the internal token required on every path but the health checks, the service's
/// context, metrics and the token as app data, the shared extractor settings and the JSON
/// 404, then the service's own routes.
pub fn app<T: 'static>(
    context: web::Data<T>,
    metrics: crate::metrics::Metrics,
    internal_token: Secret,
    routes: fn(&mut web::ServiceConfig),
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap(from_fn(require_internal_token))
        .wrap(crate::http::json_error_handlers())
        .wrap(from_fn(crate::http::request_context))
        .wrap(from_fn(crate::metrics::record_request))
        .app_data(context)
        .app_data(web::Data::new(metrics))
        .app_data(InternalToken::new(internal_token))
        .configure(crate::http::configure)
        .configure(routes)
}

/// Paths anyone who reaches a service may call: a load balancer or an orchestrator probes
/// them without Waypoint's secrets.
pub const OPEN_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// Middleware: nothing but [`OPEN_PATHS`] is served without the internal token. It runs
/// before routing, so a route added tomorrow (or a path that matches none) is covered too;
/// no service trusts whoever reaches its port.
pub async fn require_internal_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if OPEN_PATHS.contains(&req.path()) || InternalToken::vouches_for(req.request()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let refused = ApiError::new(
        Code::InternalTokenRequired,
        "This service answers only Waypoint's gateway and services.",
    );
    Ok(req.error_response(refused).map_into_boxed_body())
}

/// The listener on `addr` (a service's `BIND_ADDR`), named in the error when it is taken.
pub fn bind(addr: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).map_err(|err| anyhow::anyhow!("binding BIND_ADDR={addr}: {err}"))
}

#[cfg(test)]
mod tests {
    use actix_web::http::{Method, StatusCode};
    use actix_web::{HttpResponse, test, web};

    use crate::config::Secret;
    use crate::identity::names::INTERNAL_TOKEN;

    fn routes(cfg: &mut web::ServiceConfig) {
        cfg.route("/healthz", web::get().to(crate::http::healthz))
            .route(
                "/readyz",
                web::get().to(|| async { crate::http::readiness(&[("redis", false)]) }),
            )
            .route("/v1/things", web::post().to(HttpResponse::Created));
    }

    #[actix_web::test]
    async fn only_the_health_checks_answer_without_the_internal_token() {
        let app = test::init_service(super::app(
            web::Data::new(()),
            crate::metrics::Metrics::new("test"),
            Secret::new("s3cret"),
            routes,
        ))
        .await;
        let call = |method: Method, path: &str, token: Option<&str>| {
            let mut req = test::TestRequest::default().method(method).uri(path);
            if let Some(token) = token {
                req = req.insert_header((INTERNAL_TOKEN, token));
            }
            req.to_request()
        };

        let healthz = test::call_service(&app, call(Method::GET, "/healthz", None)).await;
        assert_eq!(healthz.status(), StatusCode::OK);
        let readyz = test::call_service(&app, call(Method::GET, "/readyz", None)).await;
        assert_eq!(readyz.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(readyz.headers().get("retry-after").unwrap(), "1");

        // A real route, an unknown one and a wrong method: all refused alike, before
        // routing, with a wrong token as with none.
        for (method, path) in [
            (Method::POST, "/v1/things"),
            (Method::GET, "/v1/things"),
            (Method::DELETE, "/nowhere"),
            (Method::GET, "/healthz/x"),
        ] {
            for token in [None, Some("s3cretX"), Some("")] {
                let res = test::call_service(&app, call(method.clone(), path, token)).await;
                assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
                let body: serde_json::Value = test::read_body_json(res).await;
                assert_eq!(body["error"]["code"], "internal_token_required");
            }
        }
        let res = test::call_service(&app, call(Method::POST, "/v1/things", Some("s3cret"))).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
}
