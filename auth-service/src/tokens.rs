//! Signing access tokens: short-lived RS256 JWTs bound to a session.

use std::time::Duration;

use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;
use shared::ApiError;
use shared::token::{ACCESS_TOKEN_TYPE, AccessClaims};

use crate::config::JwtSettings;
use crate::keys::SigningKey;

pub struct TokenIssuer {
    key: SigningKey,
    header: Header,
    issuer: String,
    audience: String,
    ttl: Duration,
}

/// The body of a successful login or refresh.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    /// RS256 JWT for `Authorization: Bearer`.
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque, single-use; exchange it at `/v1/auth/refresh`. Absent when the client asked
    /// for it in the `wp_refresh` cookie instead (`X-Refresh-Token-Transport: cookie`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl TokenIssuer {
    pub fn new(key: SigningKey, settings: &JwtSettings) -> Self {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(key.kid.clone());
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        Self {
            key,
            header,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            ttl: settings.access_token_ttl,
        }
    }

    /// The JWK set the gateway verifies with.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.key.jwk] })
    }

    pub fn pair(
        &self,
        user_id: i64,
        session_id: &str,
        refresh_token: String,
    ) -> Result<TokenPair, ApiError> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let claims = AccessClaims {
            sub: user_id.to_string(),
            sid: session_id.to_owned(),
            iat: now,
            nbf: now,
            exp: now + self.ttl.as_secs(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: shared::random::token_hex(16),
        };
        let access_token = jsonwebtoken::encode(&self.header, &claims, &self.key.encoding)
            .map_err(ApiError::internal)?;
        Ok(TokenPair {
            access_token,
            token_type: "Bearer",
            expires_in: self.ttl.as_secs(),
            refresh_token: Some(refresh_token),
        })
    }
}
