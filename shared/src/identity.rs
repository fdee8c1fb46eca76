//! Who is calling, as the gateway vouches for it.
//!
//! The gateway authenticates the client, strips any identity headers the client sent, and
//! sets `X-User-Id`, `X-Session-Id`, `X-User-Roles`, `X-User-Scopes` and `X-Real-IP`
//! together with `X-Waypoint-Internal`, the internal token shared by the gateway and the
//! services. A service believes the identity headers only when that token matches
//! (compared in constant time), so a request that reaches a service around the gateway
//! carries no identity at all. The same token guards the `/internal/…` routes services call on each
//! other.
//!
//! Authorization is the gateway's: a request reaches a service only if the caller's roles
//! allow its route and method. Services never test role names (`X-User-Roles` is for
//! showing them); they check ownership, and widen it only for a holder of a scope
//! ([`Identity::holds`], see `crate::policy::scopes`).

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header::HeaderName;
use actix_web::{FromRequest, HttpRequest};
use subtle::ConstantTimeEq;

use crate::config::Secret;
use crate::error::{ApiError, Code};
use crate::policy::scopes::Scope;

/// Header names as strings, for HTTP clients of another `http` version.
pub mod names {
    pub const USER_ID: &str = "x-user-id";
    pub const USER_ROLES: &str = "x-user-roles";
    pub const USER_SCOPES: &str = "x-user-scopes";
    pub const SESSION_ID: &str = "x-session-id";
    pub const REAL_IP: &str = "x-real-ip";
    pub const INTERNAL_TOKEN: &str = "x-waypoint-internal";
}

pub const X_USER_ID: HeaderName = HeaderName::from_static(names::USER_ID);
pub const X_USER_ROLES: HeaderName = HeaderName::from_static(names::USER_ROLES);
pub const X_USER_SCOPES: HeaderName = HeaderName::from_static(names::USER_SCOPES);
pub const X_SESSION_ID: HeaderName = HeaderName::from_static(names::SESSION_ID);
pub const X_REAL_IP: HeaderName = HeaderName::from_static(names::REAL_IP);
pub const X_INTERNAL_TOKEN: HeaderName = HeaderName::from_static(names::INTERNAL_TOKEN);

/// Headers only the gateway may set; it removes any a client sends.
pub const GATEWAY_ONLY_HEADERS: [HeaderName; 6] = [
    X_USER_ID,
    X_USER_ROLES,
    X_USER_SCOPES,
    X_SESSION_ID,
    X_REAL_IP,
    X_INTERNAL_TOKEN,
];

/// The internal token, registered as app data in every service.
#[derive(Clone)]
pub struct InternalToken(Secret);

impl InternalToken {
    pub fn new(secret: Secret) -> Self {
        Self(secret)
    }

    pub fn value(&self) -> &str {
        self.0.expose()
    }

    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0.expose().as_bytes().ct_eq(presented).into()
    }

    /// Whether `req` carries this token (false when the app registered none: fail closed).
    pub fn vouches_for(req: &HttpRequest) -> bool {
        let Some(token) = req.app_data::<InternalToken>() else {
            return false;
        };
        req.headers()
            .get(X_INTERNAL_TOKEN)
            .is_some_and(|value| token.matches(value.as_bytes()))
    }
}

/// The signed-in user of this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: i64,
    pub session_id: String,
    /// Role names, for showing; never for deciding (the gateway decided).
    pub roles: Vec<String>,
    /// Names of the scopes the caller holds.
    pub scopes: Vec<String>,
}

impl Identity {
    /// Whether the caller holds `scope` (granted through one of their roles).
    pub fn holds(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|s| s == scope.name)
    }

    fn from_headers(req: &HttpRequest) -> Option<Self> {
        if !InternalToken::vouches_for(req) {
            return None;
        }
        let header = |name: &HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
        let user_id = header(&X_USER_ID)?.parse().ok()?;
        let session_id = header(&X_SESSION_ID)?.to_owned();
        let list = |name: &HeaderName| -> Vec<String> {
            header(name)
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|item| !item.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        Some(Self {
            user_id,
            session_id,
            roles: list(&X_USER_ROLES),
            scopes: list(&X_USER_SCOPES),
        })
    }
}

impl FromRequest for Identity {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            Self::from_headers(req).ok_or_else(|| {
                ApiError::new(Code::Unauthenticated, "Sign in to use this endpoint.")
            }),
        )
    }
}

/// A caller holding the internal token: the gateway or another service.
#[derive(Debug, Clone, Copy)]
pub struct InternalCaller;

impl FromRequest for InternalCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(if InternalToken::vouches_for(req) {
            Ok(InternalCaller)
        } else {
            Err(ApiError::new(
                Code::InternalOnly,
                "This endpoint is for Waypoint's own services.",
            ))
        })
    }
}

/// The client's address: `X-Real-IP` as resolved by the gateway when vouched for,
/// otherwise the peer of this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequest for ClientAddr {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let vouched = InternalToken::vouches_for(req)
            .then(|| req.headers().get(X_REAL_IP))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let peer = req.peer_addr().map(|addr| addr.ip());
        ready(
            vouched.or(peer).map(ClientAddr).ok_or_else(|| {
                ApiError::new(Code::NoClientAddress, "The client address is unknown.")
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::scopes::ALL_ORDERS;
    use actix_web::test::TestRequest;

    fn token() -> InternalToken {
        InternalToken::new(Secret::new("s3cret-token"))
    }

    fn identity(req: TestRequest) -> Result<Identity, ApiError> {
        let (req, mut payload) = req.to_http_parts();
        futures_util::FutureExt::now_or_never(Identity::from_request(&req, &mut payload)).unwrap()
    }

    #[test]
    fn identity_headers_count_only_with_the_internal_token() {
        let base = || {
            TestRequest::default()
                .app_data(token())
                .insert_header((X_USER_ID, "42"))
                .insert_header((X_SESSION_ID, "abc"))
                .insert_header((X_USER_ROLES, "traveller, expert"))
                .insert_header((X_USER_SCOPES, ALL_ORDERS.name))
        };
        let who = identity(base().insert_header((X_INTERNAL_TOKEN, "s3cret-token"))).unwrap();
        assert_eq!(who.user_id, 42);
        assert_eq!(who.roles, ["traveller", "expert"]);
        assert!(who.holds(ALL_ORDERS));

        for spoof in [
            base(),
            base().insert_header((X_INTERNAL_TOKEN, "s3cret-tokeN")),
        ] {
            let err = identity(spoof).unwrap_err();
            assert_eq!(err.kind().status().as_u16(), 401);
        }
    }

    #[test]
    fn without_a_registered_token_nothing_is_vouched_for() {
        let req = TestRequest::default()
            .insert_header((X_INTERNAL_TOKEN, "anything"))
            .insert_header((X_USER_ID, "1"))
            .insert_header((X_SESSION_ID, "s"));
        assert!(identity(req).is_err());
    }
}
