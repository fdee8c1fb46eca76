/// A route pattern as the gateway matches it: `/v1/trips/{id}`.
///
/// The gateway matches canonical paths (lowercase, no empty or dot segments, no trailing
/// slash), so a pattern is written the same way: static segments of `a-z 0-9 . _ -`,
/// parameters `{name}`, under a version prefix. No wildcards: a permission covers one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    pattern: String,
    key: String,
}

impl RoutePattern {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let pattern = raw.trim();
        if pattern.len() > 200 {
            return Err("must be at most 200 characters".into());
        }
        let Some(rest) = pattern.strip_prefix('/') else {
            return Err("must start with '/'".into());
        };
        let segments: Vec<&str> = rest.split('/').collect();
        let versioned = segments.first().is_some_and(|v| {
            v.len() >= 2 && v.starts_with('v') && v[1..].bytes().all(|b| b.is_ascii_digit())
        });
        if !versioned || segments.len() < 2 {
            return Err("must start with a version, like /v1/…".into());
        }
        let mut key = String::with_capacity(pattern.len());
        let mut params: Vec<&str> = Vec::new();
        for segment in &segments {
            key.push('/');
            if let Some(param) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let valid = !param.is_empty()
                    && param.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                    && param
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !valid {
                    return Err(format!("has an invalid parameter {segment:?}"));
                }
                if params.contains(&param) {
                    return Err(format!("repeats the parameter {segment:?}"));
                }
                params.push(param);
                key.push_str("{}");
            } else {
                let valid = !segment.is_empty()
                    && segment.bytes().all(|b| {
                        b.is_ascii_lowercase()
                            || b.is_ascii_digit()
                            || matches!(b, b'.' | b'_' | b'-')
                    })
                    && *segment != "."
                    && *segment != "..";
                if !valid {
                    return Err(format!(
                        "has an invalid segment {segment:?}: use lowercase a-z, 0-9, '.', '_', '-' or {{param}}"
                    ));
                }
                key.push_str(segment);
            }
        }
        Ok(Self {
            pattern: pattern.to_owned(),
            key,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The pattern with parameter names erased; two patterns with one key are one route.
    pub fn key(&self) -> &str {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::RoutePattern;

    #[test]
    fn patterns_with_the_same_shape_share_a_key() {
        let a = RoutePattern::parse("/v1/users/{id}/roles").unwrap();
        let b = RoutePattern::parse("/v1/users/{user_id}/roles").unwrap();
        assert_eq!(a.key(), "/v1/users/{}/roles");
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for raw in [
            "",
            "v1/trips",
            "/trips",
            "/v1",
            "/v1/",
            "/v1//trips",
            "/v1/Trips",
            "/v1/trips/*",
            "/v1/trips/{*rest}",
            "/v1/trips/{}",
            "/v1/trips/{Id}",
            "/v1/trips/{id}/{id}",
            "/v1/trips/../users",
            "/v1/trips?x=1",
            "/v1/trips/",
        ] {
            assert!(
                RoutePattern::parse(raw).is_err(),
                "{raw:?} should be refused"
            );
        }
        assert!(RoutePattern::parse("/v1/auth/jwks.json").is_ok());
    }
}
