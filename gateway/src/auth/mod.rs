//! Authentication at the edge: a bearer JWT verified locally, then its session checked
//! (and its idle timeout slid) in Redis, in one round trip, or in the session state held
//! in process (see [`cache`]).

pub mod cache;
pub mod jwks;
pub mod session;
pub mod verifier;

use hyper::header::HeaderValue;
use shared::{ApiError, Code};

/// The caller, once token and session check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: i64,
    pub session_id: String,
}

/// The bearer token of the `Authorization` header (never a query parameter: URLs end up
/// in logs and browser history), as bytes: readable ASCII, so a `str` where one is needed
/// (not in the steady state, see [`verifier::TokenVerifier::cached`]). `authorization`: the
/// request's first `Authorization` header, if any.
pub fn bearer_token(authorization: Option<&HeaderValue>) -> Result<&[u8], ApiError> {
    let value = authorization.ok_or_else(|| {
        ApiError::new(
            Code::MissingToken,
            "Sign in: send Authorization: Bearer <token>.",
        )
    })?;
    // `HeaderValue::to_str`'s rule (visible ASCII or tab), checked without an early exit
    // so that it runs over whole words: it checked a token byte by byte, ~10 instructions
    // each, the largest cost of a signed-in request after actix's own.
    let bytes = value.as_bytes();
    let readable = bytes.iter().fold(true, |ok, &b| {
        ok & ((0x20..0x7f).contains(&b) | (b == b'\t'))
    });
    if !readable {
        return Err(invalid_token("The Authorization header is not readable."));
    }
    let malformed = || invalid_token("Use Authorization: Bearer <token>.");
    let space = bytes
        .iter()
        .position(|&b| b == b' ')
        .ok_or_else(malformed)?;
    let (scheme, token) = (&bytes[..space], bytes[space + 1..].trim_ascii());
    if !scheme.eq_ignore_ascii_case(b"bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(token)
}

pub fn invalid_token(message: &'static str) -> ApiError {
    ApiError::new(Code::InvalidToken, message)
}

#[cfg(test)]
mod tests {
    use hyper::header::HeaderValue;
    use shared::Code;

    use super::bearer_token;

    fn token_of(value: &[u8]) -> Result<String, Code> {
        let value = HeaderValue::from_bytes(value).unwrap();
        bearer_token(Some(&value))
            .map(|token| String::from_utf8(token.to_vec()).unwrap())
            .map_err(|e| e.code())
    }

    #[test]
    fn only_a_readable_bearer_header_yields_a_token() {
        assert_eq!(token_of(b"Bearer a.b.c").as_deref(), Ok("a.b.c"));
        assert_eq!(token_of(b"bearer  a.b.c\t").as_deref(), Ok("a.b.c"));
        // Bytes a header may carry but `to_str` refuses: obs-text, valid UTF-8 or not.
        for unreadable in [
            &b"Bearer a.b\xffc"[..],
            b"Bearer a\x80b",
            b"Bearer \xc3\xa9",
        ] {
            assert_eq!(
                token_of(unreadable),
                Err(Code::InvalidToken),
                "{unreadable:?}"
            );
        }
        for malformed in [&b"Bearer"[..], b"Basic a.b.c", b"Bearer  "] {
            assert_eq!(
                token_of(malformed),
                Err(Code::InvalidToken),
                "{malformed:?}"
            );
        }
        assert_eq!(
            bearer_token(None).map_err(|e| e.code()),
            Err(Code::MissingToken)
        );
    }
}
