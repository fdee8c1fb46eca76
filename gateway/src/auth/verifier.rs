//! Access-token verification: RS256 pinned, `exp`, `nbf`, `iss`, `aud` and `sub` required,
//! leeway explicit, the key chosen by `kid`.
//!
//! A verified token is remembered until it expires, so the RSA check runs once per token,
//! not once per request. The cache only ever skips the signature check of a token that
//! already passed it; the session is still checked in Redis on every request.

use std::hash::BuildHasher;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::{Algorithm, Validation};
use shared::token::{ACCESS_TOKEN_TYPE, AccessClaims};
use shared::{ApiError, Code};

use super::jwks::KeySet;
use super::{Caller, invalid_token};
use crate::fast_map::FastMap;

/// Longest token considered; ours are under 1 KiB.
const MAX_TOKEN_BYTES: usize = 4096;
const CACHE_CAPACITY: usize = 20_000;
/// The token's last bytes a cache key hashes: its signature's, which differ between any
/// two tokens (hashing a whole token, ~700 bytes, cost more than the rest of the lookup).
const KEY_BYTES: usize = 32;

/// A verified token, found by the hash of its signature's tail and its length.
struct Verified {
    token: Box<str>,
    caller: Caller,
    exp: u64,
}

pub struct TokenVerifier {
    keys: Arc<KeySet>,
    validation: Validation,
    leeway: u64,
    /// Keyed per process, so that which tokens share a key cannot be worked out; two that
    /// do only evict each other (a lookup compares the whole token).
    hasher: foldhash::fast::RandomState,
    cache: RwLock<FastMap<u64, Verified>>,
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
            hasher: Default::default(),
            cache: RwLock::default(),
        }
    }

    fn key(&self, token: &[u8]) -> u64 {
        let tail = &token[token.len().saturating_sub(KEY_BYTES)..];
        self.hasher.hash_one((tail, token.len()))
    }

    /// The caller of a token this replica has already verified and that has not expired
    /// since: no signature check. `None` for anything else, which must go to [`verify`].
    ///
    /// [`verify`]: Self::verify
    ///
    /// The token as bytes (`bearer_token` checked they are readable ASCII): making a `str`
    /// of ~700 bytes cost more than the rest of the lookup. `now_ms`: the request's clock.
    pub fn cached(&self, token: &[u8], now_ms: i64) -> Option<Caller> {
        let now = u64::try_from(now_ms / 1000).unwrap_or(0);
        let cache = self.cache.read().ok()?;
        let found = cache
            .get(&self.key(token))
            .filter(|v| v.token.as_bytes() == token)?;
        (now <= found.exp + self.leeway).then(|| found.caller.clone())
    }

    pub fn verify(&self, token: &[u8]) -> Result<Caller, ApiError> {
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(caller) = self.cached(token, now as i64 * 1000) {
            return Ok(caller);
        }
        let token = std::str::from_utf8(token)
            .map_err(|_| invalid_token("The access token is malformed."))?;
        let (caller, exp) = self.verify_uncached(token)?;
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= CACHE_CAPACITY {
                cache.retain(|_, v| now <= v.exp + self.leeway);
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
            }
            let verified = Verified {
                token: token.into(),
                caller: caller.clone(),
                exp,
            };
            cache.insert(self.key(token.as_bytes()), verified);
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use shared::replicas::Replicas;

    use super::{Caller, KeySet, TokenVerifier, Verified};
    use crate::config::ServiceUrls;
    use crate::metrics::GatewayMetrics;

    fn verifier() -> TokenVerifier {
        let url = "http://127.0.0.1:1".to_owned();
        let urls = ServiceUrls {
            auth: url.clone(),
            rbac: url.clone(),
            payment: url.clone(),
            recommend: url.clone(),
            chat: url.clone(),
        };
        let metrics = GatewayMetrics::new(&shared::metrics::Metrics::new("test"), &urls);
        let keys = KeySet::new(Arc::new(Replicas::parse(&url).unwrap()), metrics);
        TokenVerifier::new(keys, "waypoint", "waypoint", Duration::from_secs(5))
    }

    fn remember(verifier: &TokenVerifier, token: &str, exp: u64) -> Caller {
        let caller = Caller {
            user_id: 7,
            session_id: "a".repeat(32),
        };
        let verified = Verified {
            token: token.into(),
            caller: caller.clone(),
            exp,
        };
        let key = verifier.key(token.as_bytes());
        verifier.cache.write().unwrap().insert(key, verified);
        caller
    }

    #[test]
    fn only_the_very_token_verified_skips_the_check() {
        let verifier = verifier();
        let signature = "s".repeat(64);
        let token = format!("header.payload.{signature}");
        let later = jsonwebtoken::get_current_timestamp() + 60;
        let caller = remember(&verifier, &token, later);
        let now = shared::time::now_millis();
        assert_eq!(verifier.cached(token.as_bytes(), now), Some(caller));
        // Same signature, same length, other claims: its key is the verified token's.
        let forged = format!("HEADER.PAYLOAD.{signature}");
        assert_eq!(
            verifier.key(forged.as_bytes()),
            verifier.key(token.as_bytes())
        );
        assert_eq!(verifier.cached(forged.as_bytes(), now), None);
        assert_eq!(verifier.cached(b"header.payload", now), None);

        let expired = format!("old.token.{signature}");
        remember(&verifier, &expired, later - 3_600);
        assert_eq!(verifier.cached(expired.as_bytes(), now), None);
    }
}
