//! What every service's HTTP server is built from, so each `startup.rs` only says what is
//! particular to it.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, web};

use crate::config::Secret;
use crate::identity::InternalToken;

/// How long an idle keep-alive connection stays open. Longer than the idle timeout of the
/// pools that call us (nginx's upstream keepalive and the gateway's client: 60 s), so the
/// caller always closes first: were we to close first, a request sent on the connection at
/// that moment would fail, and a proxy does not retry a POST (a 502 for the user).
pub const KEEP_ALIVE: Duration = Duration::from_secs(75);

/// A service's app: every error in the JSON shape, a span and request id per request, the
/// service's context and the internal token as app data, the shared extractor settings and
/// the JSON 404, then the service's own routes.
pub fn app<T: 'static>(
    context: web::Data<T>,
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
        .wrap(crate::http::json_error_handlers())
        .wrap(from_fn(crate::http::request_context))
        .app_data(context)
        .app_data(InternalToken::new(internal_token))
        .configure(crate::http::configure)
        .configure(routes)
}

/// The listener on `addr` (a service's `BIND_ADDR`), named in the error when it is taken.
pub fn bind(addr: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).map_err(|err| anyhow::anyhow!("binding BIND_ADDR={addr}: {err}"))
}
