//! Path canonicalisation: the gateway decides and forwards on one canonical form, so no
//! spelling of a path (`..`, `//`, percent-encoding, letter case) can reach a different
//! decision than the path it stands for.
//!
//! The canonical form: percent-decoded once, dot segments resolved, empty segments
//! dropped, ASCII lowercased, no trailing slash, then re-encoded where a path needs it.
//! Encoded slashes and backslashes, a `%` that survives decoding (double encoding),
//! control characters and climbing above the root are refused outright (400): they have
//! no legitimate use in Waypoint's API and are classic ways of smuggling a path.

use shared::{ApiError, Code};

/// Bytes a canonical segment keeps as they are (`encode_segment` escapes the others).
const PLAIN: &[u8] = b"-._~!$&'()*+,;=:@";

pub fn canonicalize(raw: &str) -> Result<String, ApiError> {
    // Nearly every path arrives canonical already: checking that is one pass over it,
    // rebuilding it cost a decode, a lowercased copy per segment and an escape per byte.
    if is_canonical(raw) {
        return Ok(raw.to_owned());
    }
    rebuild(raw)
}

/// Whether `raw` is its own canonical form: lowercase plain segments, none empty, `.` or
/// `..`, no trailing slash.
fn is_canonical(raw: &str) -> bool {
    let Some(rest) = raw.strip_prefix('/') else {
        return false;
    };
    rest.is_empty()
        || rest.split('/').all(|segment| {
            !matches!(segment, "" | "." | "..")
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || PLAIN.contains(&b))
        })
}

fn rebuild(raw: &str) -> Result<String, ApiError> {
    if !raw.starts_with('/') {
        return Err(bad_path("must start with '/'"));
    }
    let decoded = percent_decode(raw)?;
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err(bad_path("climbs above the root"));
                }
            }
            other => segments.push(other),
        }
    }
    let mut canonical = String::with_capacity(decoded.len() + 1);
    if segments.is_empty() {
        canonical.push('/');
    }
    for segment in segments {
        canonical.push('/');
        encode_segment(&segment.to_ascii_lowercase(), &mut canonical);
    }
    Ok(canonical)
}

fn percent_decode(raw: &str) -> Result<String, ApiError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or_else(|| bad_path("has a truncated %-escape"))?;
            let value = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad_path("has an invalid %-escape"))?;
            if matches!(value, b'/' | b'\\' | b'%') {
                return Err(bad_path("encodes '/', '\\' or '%'"));
            }
            i += 3;
            value
        } else {
            i += 1;
            bytes[i - 1]
        };
        if byte < 0x20 || byte == 0x7f || byte == b'\\' || byte == b' ' {
            return Err(bad_path("contains a control character, space or backslash"));
        }
        out.push(byte);
    }
    String::from_utf8(out).map_err(|_| bad_path("is not UTF-8 once decoded"))
}

fn encode_segment(segment: &str, out: &mut String) {
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || PLAIN.contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

fn bad_path(why: &str) -> ApiError {
    ApiError::new(Code::InvalidPath, format!("The request path {why}."))
}

#[cfg(test)]
mod tests {
    use super::{canonicalize, is_canonical, rebuild};

    #[test]
    fn spellings_of_one_path_reach_the_same_canonical_form() {
        let canonical = "/v1/auth/me";
        for spelling in [
            "/v1/auth/me",
            "/v1/auth/me/",
            "//v1//auth///me",
            "/v1/./auth/me",
            "/v1/trips/../auth/me",
            "/V1/Auth/ME",
            "/%76%31/auth/%6De",
            "/v1/auth/x/y/../../me",
        ] {
            assert_eq!(canonicalize(spelling).unwrap(), canonical, "{spelling}");
        }
        assert_eq!(canonicalize("/").unwrap(), "/");
        assert_eq!(canonicalize("/a/..").unwrap(), "/");
    }

    #[test]
    fn smuggling_attempts_are_refused() {
        for spelling in [
            "/v1/auth%2fme",
            "/v1/auth%2Fme",
            "/v1/auth%5cme",
            "/v1/auth\\me",
            "/v1/%252e%252e/auth",
            "/v1/auth/me%00",
            "/v1/auth/me%",
            "/v1/auth/me%zz",
            "/../etc/passwd",
            "/v1/%2e%2e/%2e%2e/x",
            "v1/auth/me",
            "/v1/%ff",
        ] {
            assert!(
                canonicalize(spelling).is_err(),
                "{spelling} should be refused"
            );
        }
    }

    #[test]
    fn a_path_taken_as_canonical_is_what_rebuilding_it_gives() {
        for path in [
            "/",
            "/v1/auth/me",
            "/v1/trips/42/ratings",
            "/v1/a-b_c.d~e/!$&'()*+,;=:@",
            "/v1/.well-known/x",
            "/v1/..a/b..",
        ] {
            assert!(is_canonical(path), "{path}");
            assert_eq!(rebuild(path).unwrap(), path);
        }
        for path in [
            "",
            "v1",
            "//",
            "/v1/",
            "/v1//me",
            "/v1/./me",
            "/v1/../me",
            "/v1/..",
            "/V1",
            "/v1/%41",
            "/v1/a b",
            "/v1/丽江",
            "/v1/a\\b",
            "/v1/a\"b",
        ] {
            assert!(!is_canonical(path), "{path}");
        }
    }

    #[test]
    fn non_ascii_is_kept_and_re_encoded() {
        assert_eq!(
            canonicalize("/v1/trips/%E4%B8%BD%E6%B1%9F").unwrap(),
            "/v1/trips/%E4%B8%BD%E6%B1%9F"
        );
        assert_eq!(
            canonicalize("/v1/trips/丽江").unwrap(),
            "/v1/trips/%E4%B8%BD%E6%B1%9F"
        );
    }
}
