//! Every part exposes Prometheus metrics on its own listener: after real traffic through a
//! gateway, each part's counters moved by exactly what was sent (read with a real parser of
//! the exposition format), and nginx does not route the metrics listener.

use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::testing::Scraped as Scrape;

use crate::helpers::{Nginx, PASSWORD, Stack};
use crate::payments::{paid_order, shop};

/// Every part's metrics, by part name.
async fn scrape_all(stack: &Stack) -> Vec<(String, Scrape)> {
    let mut all = Vec::new();
    for (part, url) in &stack.metrics {
        let response = stack.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{part}");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("application/openmetrics-text"),
            "{part}: {content_type}"
        );
        let text = response.text().await.unwrap();
        all.push((part.clone(), Scrape::parse(&text)));
    }
    all
}

fn part<'a>(all: &'a [(String, Scrape)], name: &str) -> &'a Scrape {
    &all.iter().find(|(part, _)| part == name).unwrap().1
}

struct Delta<'a> {
    before: &'a [(String, Scrape)],
    after: &'a [(String, Scrape)],
}

impl Delta<'_> {
    fn of(&self, part_name: &str, metric: &str, labels: &[(&str, &str)]) -> f64 {
        part(self.after, part_name).value(metric, labels)
            - part(self.before, part_name).value(metric, labels)
    }

    /// `metric{labels}` of `part_name` moved by exactly `by`.
    fn expect(&self, part_name: &str, metric: &str, labels: &[(&str, &str)], by: f64) {
        let moved = self.of(part_name, metric, labels);
        assert_eq!(moved, by, "{part_name}: {metric}{labels:?}");
    }
}

fn requests(route: &str, method: &str, status: &str) -> [(&'static str, String); 3] {
    [
        ("route", route.to_owned()),
        ("method", method.to_owned()),
        ("status", status.to_owned()),
    ]
}

fn as_refs<'a>(labels: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    labels.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

const COUNT: &str = "http_request_duration_seconds_count";

#[tokio::test]
async fn every_part_counts_what_it_served_on_its_own_listener() {
    let (stack, trip) = shop("Dali Erhai Lake", 50_000).await;
    stack.register("walker").await;

    let before = scrape_all(&stack).await;
    for (part, scrape) in &before {
        let build = scrape
            .samples()
            .iter()
            .find(|s| s.metric == "waypoint_build_info");
        let named = build.and_then(|s| s.labels.get("part")).unwrap_or_default();
        assert!(
            part.starts_with(named) && !named.is_empty(),
            "{part}: {named}"
        );
    }

    // Through gateway A only: two wrong passwords, one login, three catalogue reads, an
    // order, a route nobody serves, a logout.
    let login = |password: &'static str| {
        let body = json!({ "account": "walker", "password": password });
        stack.call(0, Method::POST, "/v1/auth/login", None, Some(body))
    };
    for _ in 0..2 {
        assert_eq!(login("not-the-password").await.0, StatusCode::UNAUTHORIZED);
    }
    let (status, tokens) = login(PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap();
    for _ in 0..3 {
        let (status, _) = stack.call(0, Method::GET, "/v1/trips", None, None).await;
        assert_eq!(status, StatusCode::OK);
    }
    let order = json!({ "trip_id": trip["id"], "quantity": 1 });
    let (status, body) = stack
        .call(0, Method::POST, "/v1/orders", Some(token), Some(order))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = stack.call(0, Method::GET, "/v1/nowhere", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = stack
        .call(0, Method::POST, "/v1/auth/logout", Some(token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let after = scrape_all(&stack).await;
    let delta = Delta {
        before: &before,
        after: &after,
    };

    // The gateway: 7 + 1 requests forwarded (logins, reads, the order, the logout), one
    // refused as an unknown route; labelled by the policy's resource, never the raw path.
    let allowed = [("decision", "allowed"), ("reason", "forwarded")];
    delta.expect("gateway-0", "gateway_decisions_total", &allowed, 8.0);
    let unknown = [("decision", "404"), ("reason", "route_not_found")];
    delta.expect("gateway-0", "gateway_decisions_total", &unknown, 1.0);
    let trips = requests("trips", "GET", "2xx");
    delta.expect("gateway-0", COUNT, &as_refs(&trips), 3.0);
    let raw = after.iter().flat_map(|(_, s)| s.samples());
    assert!(
        raw.clone()
            .all(|s| s.labels.get("route") != Some("/v1/nowhere"))
    );
    let to_recommend = [("service", "recommend")];
    let upstream = "gateway_upstream_duration_seconds_count";
    assert!(delta.of("gateway-0", upstream, &to_recommend) >= 3.0);
    let redis = "gateway_redis_round_trip_seconds_count";
    assert!(delta.of("gateway-0", redis, &[]) >= 2.0);
    let loaded = "gateway_policy_loaded_timestamp_seconds";
    assert!(part(&after, "gateway-0").value(loaded, &[]) > 0.0);
    assert!(part(&after, "gateway-0").value("gateway_jwks_loaded_timestamp_seconds", &[]) > 0.0);
    // Gateway B served none of it: each part has its own registry.
    delta.expect("gateway-1", "gateway_decisions_total", &allowed, 0.0);

    // auth-service: by route template, and its own signals.
    let failed = requests("/v1/auth/login", "POST", "4xx");
    delta.expect("auth-service", COUNT, &as_refs(&failed), 2.0);
    let ok = requests("/v1/auth/login", "POST", "2xx");
    delta.expect("auth-service", COUNT, &as_refs(&ok), 1.0);
    let logins = "auth_logins_total";
    delta.expect("auth-service", logins, &[("outcome", "failed")], 2.0);
    delta.expect("auth-service", logins, &[("outcome", "ok")], 1.0);
    let started = [("method", "password")];
    delta.expect("auth-service", "auth_sessions_started_total", &started, 1.0);
    let ended = [("cause", "logout")];
    delta.expect("auth-service", "auth_sessions_ended_total", &ended, 1.0);

    // The services behind: the catalogue reads and the order, by template.
    let listed = requests("/v1/trips", "GET", "2xx");
    delta.expect("recommend-service", COUNT, &as_refs(&listed), 3.0);
    let ordered = requests("/v1/orders", "POST", "2xx");
    delta.expect("payment-service", COUNT, &as_refs(&ordered), 1.0);
    let orders = [("transition", "created")];
    delta.expect("payment-service", "payment_orders_total", &orders, 1.0);
    for (part, scrape) in &after {
        assert_eq!(scrape.value("http_requests_in_flight", &[]), 0.0, "{part}");
    }

    // A payment: Alipay's notification verified and the order paid, once.
    let (_, tokens) = login(PASSWORD).await;
    let token = tokens["access_token"].as_str().unwrap();
    paid_order(&stack, token, trip["id"].as_i64().unwrap()).await;
    let paid = scrape_all(&stack).await;
    let delta = Delta {
        before: &after,
        after: &paid,
    };
    let verified = [("result", "verified"), ("reason", "paid")];
    delta.expect(
        "payment-service",
        "payment_notifications_total",
        &verified,
        1.0,
    );
    let paid_transition = [("transition", "paid")];
    delta.expect(
        "payment-service",
        "payment_orders_total",
        &paid_transition,
        1.0,
    );
}

#[tokio::test]
async fn nginx_and_the_public_ports_never_serve_metrics() {
    let stack = Stack::start().await;
    let nginx = Nginx::start(&[stack.gw(0), stack.gw(1)]);
    for base in [nginx.base.as_str(), stack.gw(0), stack.auth_url.as_str()] {
        let response = stack
            .http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        // nginx answers the web UI's page for a path outside /v1; the gateway knows no
        // such route, a service refuses it without the internal token.
        assert!(
            base == nginx.base || !status.is_success(),
            "{base}: {status}"
        );
        assert!(
            !text.contains("http_request_duration_seconds"),
            "{base}: {text}"
        );
    }
    // The listener itself answers, on its own port.
    let (_, url) = &stack.metrics[0];
    let text = stack.http.get(url).send().await.unwrap().text().await;
    assert!(text.unwrap().contains("http_request_duration_seconds"));
}

#[tokio::test]
async fn rbac_counts_policy_changes_and_roles_cache_writes_failed_ones_too() {
    let stack = Stack::start().await;
    let keeper = stack.register("keeper").await;
    let before = scrape_all(&stack).await;

    // Replacing the new user's default role is a revocation and a grant: each fences the
    // user's cache entry, then writes the roles. A new role changes the policy, and the
    // gateways hear of it.
    stack.set_roles(keeper, &["product_admin"]).await;
    stack
        .admin_create("/v1/roles", json!({ "name": "auditor" }))
        .await;
    let after = scrape_all(&stack).await;
    let delta = Delta {
        before: &before,
        after: &after,
    };
    let writes = "rbac_roles_cache_writes_total";
    let fenced = [("kind", "fence"), ("outcome", "written")];
    delta.expect("rbac-service", writes, &fenced, 2.0);
    // A gateway asking for the user's roles may fill the entry once more.
    let roles = [("kind", "roles"), ("outcome", "written")];
    assert!(delta.of("rbac-service", writes, &roles) >= 2.0);
    let published = [("outcome", "published")];
    delta.expect("rbac-service", "rbac_policy_changes_total", &published, 1.0);
    let failed = [("outcome", "failed")];
    delta.expect("rbac-service", writes, &failed, 0.0);

    // The user's entry is something Redis cannot compare (a hash): the next grant cannot
    // be fenced, so it is refused, and the failed write counted.
    let key = format!(
        "{}{}",
        stack.redis_settings.key_prefix,
        shared::policy::user_roles_key(keeper)
    );
    let redis = shared::testing::RedisServer::shared();
    redis.command(&["DEL", &key]);
    redis.command(&["HSET", &key, "not", "roles"]);
    let role_id = stack.role_id("auditor").await;
    let (status, body) = stack
        .call(
            0,
            Method::POST,
            &format!("/v1/users/{keeper}/roles"),
            Some(&stack.admin_token),
            Some(json!({ "role_id": role_id })),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let refused = scrape_all(&stack).await;
    let delta = Delta {
        before: &after,
        after: &refused,
    };
    let fence_failed = [("kind", "fence"), ("outcome", "failed")];
    delta.expect("rbac-service", writes, &fence_failed, 1.0);
    delta.expect(
        "rbac-service",
        "redis_errors_total",
        &[("kind", "other")],
        1.0,
    );
    assert_eq!(
        part(&refused, "rbac-service").value("db_pool_errors_total", &[]),
        0.0,
        "the database was fine"
    );
    assert!(part(&refused, "rbac-service").value("db_pool_wait_seconds_count", &[]) > 0.0);
    redis.command(&["DEL", &key]);
}
