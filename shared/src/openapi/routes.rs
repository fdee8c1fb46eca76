//! Routing from the OpenAPI description: a service lists its handlers once, in
//! [`documented_api!`](crate::documented_api), and each is routed at the path and methods of
//! its own `#[utoipa::path]`. So no handler is routed without being documented, and no
//! documented operation lacks its handler. Only the undocumented routes (`/healthz`,
//! `/readyz`, `/openapi.json`) are registered by hand.

use actix_web::http::Method;
use actix_web::{Route, web};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::{Operation, PathItem};

/// A handler of the list, named as its operation id (utoipa's default: the fn's name).
pub struct Handler {
    name: &'static str,
    route: fn() -> Route,
}

impl Handler {
    /// `path` is the handler as written in the list (`login::login`); `route` routes to it.
    pub fn new(path: &'static str, route: fn() -> Route) -> Self {
        let name = path.rsplit("::").next().unwrap_or(path).trim();
        Self { name, route }
    }
}

/// One documented operation: where, which method, and its operation id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operated {
    pub path: String,
    pub method: Method,
    pub operation_id: String,
}

/// Every operation of `doc`, path by path.
pub fn operations(doc: &OpenApi) -> Vec<Operated> {
    doc.paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            methods(item).map(move |(method, operation)| Operated {
                path: path.clone(),
                method,
                operation_id: operation.operation_id.clone().unwrap_or_default(),
            })
        })
        .collect()
}

fn methods(item: &PathItem) -> impl Iterator<Item = (Method, &Operation)> {
    [
        (Method::GET, &item.get),
        (Method::POST, &item.post),
        (Method::PUT, &item.put),
        (Method::PATCH, &item.patch),
        (Method::DELETE, &item.delete),
        (Method::HEAD, &item.head),
        (Method::OPTIONS, &item.options),
        (Method::TRACE, &item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_ref().map(|op| (method, op)))
}

/// Routes every operation of `doc` to its handler, one resource per path (so a wrong
/// method on a known path is a 405). Panics at start when an operation has no handler or
/// a handler no operation: the list and the document are one declaration.
pub fn register(cfg: &mut web::ServiceConfig, doc: &OpenApi, handlers: &[Handler]) {
    let operations = operations(doc);
    for handler in handlers {
        let documented = operations.iter().any(|op| op.operation_id == handler.name);
        assert!(documented, "handler {} has no operation", handler.name);
    }
    for (path, item) in &doc.paths.paths {
        let mut resource = crate::http::resource(path);
        for (method, operation) in methods(item) {
            let id = operation.operation_id.as_deref().unwrap_or_default();
            let handler = handlers
                .iter()
                .find(|h| h.name == id)
                .unwrap_or_else(|| panic!("{method} {path} has no handler"));
            resource = resource.route((handler.route)().method(method));
        }
        cfg.service(resource);
    }
}

/// Declares a service's OpenAPI description and the handlers it routes, from one list:
///
/// ```ignore
/// shared::documented_api! {
///     #[openapi(info(title = "…"), modifiers(&BearerAuth))]
///     pub struct ApiDoc;
///     handlers: [login::login, get_me::get_me]
/// }
/// ```
///
/// derives `utoipa::OpenApi` for `ApiDoc` with `paths(...)` being the list, and
/// `ApiDoc::routes(cfg)` routes each handler where its `#[utoipa::path]` says.
#[macro_export]
macro_rules! documented_api {
    (
        #[openapi($($attr:tt)*)]
        $vis:vis struct $doc:ident;
        handlers: [$($($segment:ident)::+),* $(,)?]
    ) => {
        #[derive(utoipa::OpenApi)]
        #[openapi($($attr)*, paths($($($segment)::+),*))]
        $vis struct $doc;

        impl $doc {
            /// Routes every handler of the list at its documented path and methods.
            pub fn routes(cfg: &mut ::actix_web::web::ServiceConfig) {
                let doc = <$doc as utoipa::OpenApi>::openapi();
                let handlers = [$(
                    $crate::openapi::routes::Handler::new(
                        stringify!($($segment)::+),
                        || ::actix_web::web::route().to($($segment)::+),
                    ),
                )*];
                $crate::openapi::routes::register(cfg, &doc, &handlers);
            }
        }
    };
}
