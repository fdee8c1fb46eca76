//! One route list: each service routes exactly the handlers its OpenAPI description lists
//! (`shared::documented_api!`), and here the other two copies of the route list, rbac's
//! seed and the gateway's table, are held to those descriptions in both directions. No
//! stack is started: the lists are compared as the code declares them.

use std::collections::BTreeSet;

use actix_web::App;
use actix_web::test as actix_test;
use gateway::config::{ServiceUrls, default_routes};
use gateway::upstreams::RouteTable;
use shared::openapi::OpenApi;
use shared::openapi::routes::operations;

use crate::helpers::concrete;

/// Routes that are deliberately in no description, seed or gateway table: the health
/// checks and the description itself (every service, registered by hand), and the
/// service-to-service `/internal/…` routes (the gateway never routes them).
const EXCEPTIONS: &[&str] = &["/healthz", "/readyz", "/openapi.json", "/internal/"];

/// Seeded routes the gateway answers itself: the merged description, and what the caller
/// may do.
const GATEWAY_OWN: &[&str] = &["/v1/openapi.json", shared::policy::MY_PERMISSIONS_PATH];

fn excepted(path: &str) -> bool {
    EXCEPTIONS
        .iter()
        .any(|e| path == *e || (e.ends_with('/') && path.starts_with(e)))
}

/// (service, its description, its routes).
type Service = (
    &'static str,
    shared::openapi::Document,
    fn(&mut actix_web::web::ServiceConfig),
);

fn services() -> Vec<Service> {
    vec![
        (
            "auth",
            auth_service::openapi::ApiDoc::openapi(),
            auth_service::routes::config,
        ),
        (
            "rbac",
            rbac_service::openapi::ApiDoc::openapi(),
            rbac_service::routes::config,
        ),
        (
            "chat",
            chat_service::openapi::ApiDoc::openapi(),
            chat_service::routes::config,
        ),
        (
            "payment",
            payment_service::openapi::ApiDoc::openapi(),
            payment_service::routes::config,
        ),
        (
            "recommend",
            recommend_service::openapi::ApiDoc::openapi(),
            recommend_service::routes::config,
        ),
    ]
}

/// `/v1/trips/{id}` and `/v1/trips/{trip_id}` are one route.
fn shape(pattern: &str) -> String {
    concrete(pattern).replace("/1", "/{}")
}

/// (service, path shape, method) of every public documented operation.
fn documented() -> BTreeSet<(&'static str, String, String)> {
    services()
        .into_iter()
        .flat_map(|(service, doc, _)| {
            operations(&doc)
                .into_iter()
                .filter(|op| !excepted(&op.path))
                .map(move |op| (service, shape(&op.path), op.method.to_string()))
        })
        .collect()
}

#[test]
fn the_rbac_seed_has_a_permission_for_every_documented_route_and_no_other() {
    let documented: BTreeSet<(String, String)> = documented()
        .into_iter()
        .map(|(_, path, method)| (path, method))
        .collect();
    let seeded: BTreeSet<(String, String)> = rbac_service::seed::RESOURCES
        .iter()
        // Scopes are permissions that are not routes (e.g. "all orders"): no service routes them.
        .filter(|r| {
            !GATEWAY_OWN.contains(&r.pattern) && !shared::policy::scopes::is_scope(r.pattern)
        })
        .flat_map(|r| {
            r.methods
                .iter()
                .map(|(method, _)| (shape(r.pattern), (*method).to_owned()))
        })
        .collect();
    let unseeded: Vec<_> = documented.difference(&seeded).collect();
    assert!(
        unseeded.is_empty(),
        "routed but not in rbac's seed: {unseeded:?}"
    );
    let unrouted: Vec<_> = seeded.difference(&documented).collect();
    assert!(
        unrouted.is_empty(),
        "seeded but routed by no service: {unrouted:?}"
    );
}

#[test]
fn the_gateway_sends_every_documented_route_to_its_service_and_has_no_unused_entry() {
    let urls = ServiceUrls {
        auth: "http://auth".into(),
        rbac: "http://rbac".into(),
        chat: "http://chat".into(),
        payment: "http://payment".into(),
        recommend: "http://recommend".into(),
    };
    let entries = default_routes(&urls);
    let routed = documented();
    for (service, path, method) in &routed {
        let concrete_path = concrete(path);
        let found = RouteTable::new(&entries).unwrap();
        let upstream = found.find(&concrete_path).map(|u| u.to_string());
        assert_eq!(
            upstream.as_deref(),
            Some(format!("http://{service}").as_str()),
            "the gateway's service for {method} {path}"
        );
    }
    for entry in &entries {
        let alone = RouteTable::new(std::slice::from_ref(entry)).unwrap();
        let used = routed.iter().any(|(service, path, _)| {
            entry.upstream == format!("http://{service}") && alone.find(&concrete(path)).is_some()
        });
        assert!(
            used,
            "the gateway's entry {} serves no documented route",
            entry.pattern
        );
    }
}

#[actix_web::test]
async fn every_documented_operation_is_routed_by_its_service() {
    for (service, doc, config) in services() {
        let app = actix_test::init_service(App::new().configure(config)).await;
        for op in operations(&doc) {
            let request = actix_test::TestRequest::default()
                .method(op.method.clone())
                .uri(&concrete(&op.path))
                .to_request();
            let status = actix_test::call_service(&app, request)
                .await
                .status()
                .as_u16();
            assert!(
                status != 404 && status != 405,
                "{service}: {} {} answered {status}",
                op.method,
                op.path
            );
        }
    }
}
