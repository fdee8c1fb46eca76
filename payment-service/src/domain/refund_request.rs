//! The fields of a refund request.

/// The caller's idempotency key for a refund: 1–64 of `A-Z a-z 0-9 _ -`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRequestNo(String);

impl OutRequestNo {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be 1 to 64 of A-Z a-z 0-9 _ -".into())
        }
    }

    /// A fresh one, when the caller gives none.
    pub fn generate() -> Self {
        Self(format!("RF{}", shared::random::token_hex(12)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why the money goes back: at most 256 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundReason(String);

impl RefundReason {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        if text.is_empty() || text.chars().count() > 256 {
            return Err("must be 1 to 256 characters long".into());
        }
        if text.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_request_numbers_are_plain_and_bounded() {
        assert!(OutRequestNo::parse("RF-2026_11").is_ok());
        for raw in ["", "a b", "x/y", "退款", &"a".repeat(65)] {
            assert!(OutRequestNo::parse(raw).is_err(), "{raw:?}");
        }
        assert!(OutRequestNo::parse(OutRequestNo::generate().as_str()).is_ok());
    }
}
