//! The routing table: which upstream serves a (canonical) path.
//!
//! Entries are route patterns (`/v1/users/{id}/roles`, matched with `matchit`) or prefixes
//! (`/v1/auth/*`: the path and everything below it). The most specific entry wins: any
//! pattern beats any prefix, and a longer prefix beats a shorter one, so
//! `/v1/users/{id}/roles` can belong to rbac-service while `/v1/users/*` belongs to
//! auth-service.
//!
//! An upstream is a set of replicas (`http://a:8101|http://b:8101`, see
//! [`shared::replicas`]): each request goes to the next replica in turn, and one that
//! fails is retried on another when that cannot do a request twice ([`after_failure`]).

use std::collections::HashMap;
use std::sync::Arc;

use hyper::Method;
use shared::replicas::Replicas;
use shared::{ApiError, Code};

/// The replica a request is sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8101`.
    pub base_url: Arc<str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    pub pattern: String,
    /// The upstream's replicas: base URLs separated by `|`.
    pub upstream: String,
}

/// One [`Replicas`] per distinct list, so that every route (and the key, policy and roles
/// fetches) to a service shares what was learnt about its replicas.
#[derive(Default)]
pub struct ReplicaSets(HashMap<String, Arc<Replicas>>);

impl ReplicaSets {
    pub fn get(&mut self, list: &str) -> anyhow::Result<Arc<Replicas>> {
        let replicas = Replicas::parse(list).map_err(|err| anyhow::anyhow!("upstream {err}"))?;
        Ok(self
            .0
            .entry(replicas.to_string())
            .or_insert_with(|| Arc::new(replicas))
            .clone())
    }
}

pub struct RouteTable {
    patterns: matchit::Router<Arc<Replicas>>,
    /// (prefix without trailing slash, upstream), longest first.
    prefixes: Vec<(String, Arc<Replicas>)>,
}

impl RouteTable {
    pub fn new(entries: &[RouteEntry]) -> anyhow::Result<Self> {
        Self::with_sets(entries, &mut ReplicaSets::default())
    }

    pub fn with_sets(entries: &[RouteEntry], sets: &mut ReplicaSets) -> anyhow::Result<Self> {
        let mut patterns = matchit::Router::new();
        let mut prefixes = Vec::new();
        for entry in entries {
            let upstream = sets
                .get(&entry.upstream)
                .map_err(|err| anyhow::anyhow!("route {}: {err}", entry.pattern))?;
            match entry.pattern.strip_suffix("/*") {
                Some(prefix) => prefixes.push((prefix.to_owned(), upstream)),
                None => patterns
                    .insert(entry.pattern.clone(), upstream)
                    .map_err(|err| anyhow::anyhow!("route {}: {err}", entry.pattern))?,
            }
        }
        prefixes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Ok(Self { patterns, prefixes })
    }

    pub fn find(&self, path: &str) -> Option<&Arc<Replicas>> {
        if let Ok(matched) = self.patterns.at(path) {
            return Some(matched.value);
        }
        self.prefixes
            .iter()
            .find(|(prefix, _)| {
                path.strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .map(|(_, upstream)| upstream)
    }
}

/// Parses `GATEWAY_ROUTES`: `pattern=url` entries separated by commas or whitespace; the
/// url may be several replicas' separated by `|`.
pub fn parse_routes(text: &str) -> anyhow::Result<Vec<RouteEntry>> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (pattern, upstream) = entry
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("route {entry:?} is not pattern=url"))?;
            anyhow::ensure!(
                pattern.starts_with('/'),
                "route pattern {pattern:?} must start with '/'"
            );
            Replicas::parse(upstream).map_err(|err| anyhow::anyhow!("route {pattern}: {err}"))?;
            Ok(RouteEntry {
                pattern: pattern.to_owned(),
                upstream: upstream.to_owned(),
            })
        })
        .collect()
}

/// `GET path` from the first of `replicas` that takes the connection: how the gateway
/// asks a service for its keys, policy, roles and API description.
pub async fn get(
    replicas: &Replicas,
    client: &reqwest::Client,
    path: &str,
    timeout: std::time::Duration,
) -> reqwest::Result<reqwest::Response> {
    replicas
        .call(
            |base| {
                client
                    .get(format!("{base}{path}"))
                    .header(shared::trace::TRACEPARENT, shared::trace::traceparent())
                    .timeout(timeout)
                    .send()
            },
            reqwest::Error::is_connect,
        )
        .await
}

/// Replicas tried for one request: a retry on a second (and third) replica, never more.
const MAX_ATTEMPTS: usize = 3;

/// What a request may be sent to, in order: one replica, or several when it can be sent
/// again.
pub fn attempts(replicas: &Replicas) -> impl Iterator<Item = usize> {
    replicas.candidates().take(MAX_ATTEMPTS)
}

/// Doing the request twice does no harm: it reads (`GET`, `HEAD`), or the service answers
/// a repeat of its `Idempotency-Key` (`idempotency_key`: the request sends one) with the
/// first answer.
pub fn safe_to_repeat(method: &Method, idempotency_key: bool) -> bool {
    matches!(*method, Method::GET | Method::HEAD) || idempotency_key
}

/// After `failed` (what forwarding to one replica returned), whether to pass that replica
/// over for a while and whether the request may go to another.
pub fn after_failure(failed: &ApiError, safe_to_repeat: bool) -> (bool, bool) {
    match failed.code() {
        // No connection: nothing was sent, any request may go elsewhere.
        Code::UpstreamUnavailable => (true, true),
        // Sent, maybe handled: only a request that can be repeated.
        Code::UpstreamTimeout => (true, safe_to_repeat),
        // A connection closed under the request (e.g. by a replica shutting down).
        Code::BadGateway => (false, safe_to_repeat),
        _ => (false, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        let routes = parse_routes(
            "/v1/auth/*=http://auth, /v1/users/*=http://auth /v1/users/{id}/roles=http://rbac,\
             /v1/users/{id}/roles/{role_id}=http://rbac /v1/trips/*=http://trips",
        )
        .unwrap();
        RouteTable::new(&routes).unwrap()
    }

    #[test]
    fn the_most_specific_route_wins() {
        let table = table();
        let cases = [
            ("/v1/users", Some("http://auth")),
            ("/v1/users/7", Some("http://auth")),
            ("/v1/users/7/roles", Some("http://rbac")),
            ("/v1/users/7/roles/3", Some("http://rbac")),
            ("/v1/auth/login", Some("http://auth")),
            ("/v1/trips", Some("http://trips")),
            ("/v1/tripsx", None),
            ("/v2/trips", None),
            ("/", None),
        ];
        for (path, expected) in cases {
            let found = table.find(path).map(|u| u.to_string());
            assert_eq!(found.as_deref(), expected, "{path}");
        }
    }

    #[test]
    fn malformed_route_config_is_refused() {
        assert!(parse_routes("/v1/auth/*").is_err());
        assert!(parse_routes("v1=http://x").is_err());
        assert!(parse_routes("/v1/x=ftp://x").is_err());
        assert!(parse_routes("/v1/x=http://a|ftp://x").is_err());
        assert!(parse_routes("/v1/x=").is_err());
    }

    #[test]
    fn routes_to_the_same_replicas_share_them() {
        let routes =
            parse_routes("/v1/a/*=http://a:1|http://a:2 /v1/b/*=http://a:1/|http://a:2").unwrap();
        let table = RouteTable::new(&routes).unwrap();
        let (a, b) = (table.find("/v1/a").unwrap(), table.find("/v1/b").unwrap());
        assert!(Arc::ptr_eq(a, b));
        assert_eq!(a.urls().len(), 2);
    }

    #[test]
    fn only_a_request_that_can_be_repeated_is_retried_after_it_was_sent() {
        let refused = ApiError::new(Code::UpstreamUnavailable, "x");
        let timed_out = ApiError::new(Code::UpstreamTimeout, "x");
        let broken = ApiError::new(Code::BadGateway, "x");
        let other = ApiError::new(Code::BodyReadFailed, "x");
        assert_eq!(after_failure(&refused, false), (true, true));
        assert_eq!(after_failure(&timed_out, false), (true, false));
        assert_eq!(after_failure(&timed_out, true), (true, true));
        assert_eq!(after_failure(&broken, false), (false, false));
        assert_eq!(after_failure(&broken, true), (false, true));
        assert_eq!(after_failure(&other, true), (false, false));
    }
}
