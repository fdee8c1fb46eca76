//! The routing table: which upstream serves a (canonical) path.
//!
//! Entries are route patterns (`/v1/users/{id}/roles`, matched with `matchit`) or prefixes
//! (`/v1/auth/*`: the path and everything below it). The most specific entry wins: any
//! pattern beats any prefix, and a longer prefix beats a shorter one, so
//! `/v1/users/{id}/roles` can belong to rbac-service while `/v1/users/*` belongs to
//! auth-service.

use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8101`.
    pub base_url: Arc<str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    pub pattern: String,
    pub upstream: String,
}

pub struct RouteTable {
    patterns: matchit::Router<Upstream>,
    /// (prefix without trailing slash, upstream), longest first.
    prefixes: Vec<(String, Upstream)>,
}

impl RouteTable {
    pub fn new(entries: &[RouteEntry]) -> anyhow::Result<Self> {
        let mut patterns = matchit::Router::new();
        let mut prefixes = Vec::new();
        for entry in entries {
            let upstream = Upstream {
                base_url: entry.upstream.trim_end_matches('/').into(),
            };
            anyhow::ensure!(
                entry.upstream.starts_with("http://") || entry.upstream.starts_with("https://"),
                "route {}: upstream {:?} is not an http(s) URL",
                entry.pattern,
                entry.upstream
            );
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

    pub fn find(&self, path: &str) -> Option<&Upstream> {
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

/// Parses `GATEWAY_ROUTES`: `pattern=url` entries separated by commas or whitespace.
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
            Ok(RouteEntry {
                pattern: pattern.to_owned(),
                upstream: upstream.to_owned(),
            })
        })
        .collect()
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
            assert_eq!(table.find(path).map(|u| &*u.base_url), expected, "{path}");
        }
    }

    #[test]
    fn malformed_route_config_is_refused() {
        assert!(parse_routes("/v1/auth/*").is_err());
        assert!(parse_routes("v1=http://x").is_err());
        assert!(RouteTable::new(&parse_routes("/v1/x=ftp://x").unwrap()).is_err());
    }
}
