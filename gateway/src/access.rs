//! Which routes need no sign-in. Everything else requires a valid access token and a
//! live session (default deny).

use actix_web::http::Method;

/// Public (method, pattern) pairs, matched against the canonical path.
pub struct PublicRoutes {
    router: matchit::Router<Vec<Method>>,
}

/// Sign-up, sign-in, token refresh, the public key set and the chat socket.
pub const DEFAULT_PUBLIC_ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/auth/register"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/refresh"),
    ("GET", "/v1/auth/jwks.json"),
    // The chat socket: its single-use ticket is the credential (checked by chat-service).
    ("GET", "/v1/chat/ws"),
];

impl PublicRoutes {
    pub fn new(routes: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut grouped: Vec<(&str, Vec<Method>)> = Vec::new();
        for (method, pattern) in routes {
            let method: Method = method.parse()?;
            match grouped.iter_mut().find(|(p, _)| p == pattern) {
                Some((_, methods)) => methods.push(method),
                None => grouped.push((pattern, vec![method])),
            }
        }
        let mut router = matchit::Router::new();
        for (pattern, methods) in grouped {
            router.insert(pattern, methods)?;
        }
        Ok(Self { router })
    }

    /// HEAD is decided as GET.
    pub fn allows(&self, method: &Method, canonical_path: &str) -> bool {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.router
            .at(canonical_path)
            .is_ok_and(|matched| matched.value.contains(method))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_method_and_route_are_public() {
        let public = PublicRoutes::new(DEFAULT_PUBLIC_ROUTES).unwrap();
        assert!(public.allows(&Method::POST, "/v1/auth/login"));
        assert!(public.allows(&Method::HEAD, "/v1/auth/jwks.json"));
        assert!(!public.allows(&Method::GET, "/v1/auth/login"));
        assert!(!public.allows(&Method::GET, "/v1/auth/me"));
        assert!(!public.allows(&Method::POST, "/v1/auth/login/extra"));
    }
}
