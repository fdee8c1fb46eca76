//! The access-token contract between auth-service, which signs, and the gateway, which
//! verifies: RS256 JWTs with these claims, all required.

use serde::{Deserialize, Serialize};

/// Default `iss` of access tokens (`JWT_ISSUER`).
pub const DEFAULT_ISSUER: &str = "waypoint-auth";
/// Default `aud` of access tokens (`JWT_AUDIENCE`).
pub const DEFAULT_AUDIENCE: &str = "waypoint";
/// The `typ` header of access tokens, so no other JWT of ours passes as one.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user id, as a decimal string.
    pub sub: String,
    /// The session this token belongs to; it is valid only while the session exists.
    pub sid: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub iss: String,
    pub aud: String,
    pub jti: String,
}
