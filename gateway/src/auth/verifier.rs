//! Access-token verification: RS256 pinned, `exp`, `nbf`, `iss`, `aud` and `sub` required,
//! leeway explicit, the key chosen by `kid`.
//!
//! A verified token is remembered until it expires, so the RSA check runs once per token,
//! not once per request. The cache only ever skips the signature check of a token that
//! already passed it; the session is still checked in Redis on every request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::{Algorithm, Validation};
use shared::token::{ACCESS_TOKEN_TYPE, AccessClaims};
use shared::{ApiError, Code};

use super::jwks::KeySet;
use super::{Caller, invalid_token};

/// Longest token considered; ours are under 1 KiB.
const MAX_TOKEN_BYTES: usize = 4096;
const CACHE_CAPACITY: usize = 20_000;

pub struct TokenVerifier {
    keys: Arc<KeySet>,
    validation: Validation,
    leeway: u64,
    cache: RwLock<HashMap<Box<str>, (Caller, u64)>>,
}

impl TokenVerifier {
    pub fn new(keys: Arc<KeySet>, issuer: &str, audience: &str, leeway: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        Self {
            keys,
            validation,
            leeway: leeway.as_secs(),
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The caller of a token this replica has already verified and that has not expired
    /// since: no signature check. `None` for anything else, which must go to [`verify`].
    ///
    /// [`verify`]: Self::verify
    pub fn cached(&self, token: &str) -> Option<Caller> {
        let now = jsonwebtoken::get_current_timestamp();
        let (caller, exp) = self.cache.read().ok()?.get(token).cloned()?;
        (now <= exp + self.leeway).then_some(caller)
    }

    pub fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        if let Some(caller) = self.cached(token) {
            return Ok(caller);
        }
        let now = jsonwebtoken::get_current_timestamp();
        let (caller, exp) = self.verify_uncached(token)?;
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= CACHE_CAPACITY {
                cache.retain(|_, (_, exp)| now <= *exp + self.leeway);
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
            }
            cache.insert(token.into(), (caller.clone(), exp));
        }
        Ok(caller)
    }

    fn verify_uncached(&self, token: &str) -> Result<(Caller, u64), ApiError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid_token("The access token is too long."));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid_token("The access token is malformed."))?;
        if header.alg != Algorithm::RS256 || header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(invalid_token("This is not a Waypoint access token."));
        }
        let kid = header
            .kid
            .ok_or_else(|| invalid_token("The access token names no key."))?;
        let key = self.keys.get(&kid).ok_or_else(|| {
            if self.keys.is_loaded() {
                invalid_token("The access token was signed with an unknown key.")
            } else {
                ApiError::new(
                    Code::KeysUnavailable,
                    "The gateway has not loaded the signing keys yet.",
                )
            }
        })?;
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &key, &self.validation).map_err(|err| {
                tracing::debug!(error = %err, "access token rejected");
                match err.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => ApiError::new(
                        Code::TokenExpired,
                        "The access token has expired; refresh it.",
                    ),
                    _ => invalid_token("The access token is invalid."),
                }
            })?;
        let claims = data.claims;
        let user_id = claims
            .sub
            .parse()
            .map_err(|_| invalid_token("The access token's subject is not a user."))?;
        let sane_sid = claims.sid.len() == 32 && claims.sid.bytes().all(|b| b.is_ascii_hexdigit());
        if !sane_sid {
            return Err(invalid_token("The access token names no valid session."));
        }
        Ok((
            Caller {
                user_id,
                session_id: claims.sid,
            },
            claims.exp,
        ))
    }
}
