/// The sender's idempotency key for a message: 1 to 64 characters of `A-Z a-z 0-9 - _ . :`
/// (a UUID fits). The same key from the same sender in the same conversation names the
/// same message, so a retry after a lost ack never posts twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMsgId(String);

impl ClientMsgId {
    pub fn parse(raw: String) -> Result<Self, String> {
        let plain = raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if raw.is_empty() || raw.len() > 64 || !plain {
            return Err("must be 1 to 64 characters of A-Z, a-z, 0-9, '-', '_', '.', ':'".into());
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::ClientMsgId;

    #[test]
    fn uuids_and_short_keys_are_accepted_and_anything_odd_refused() {
        for ok in ["c-1", "0f8fad5b-d9cb-469f-a165-70867728950e", "tab2:17"] {
            assert!(ClientMsgId::parse(ok.into()).is_ok(), "{ok}");
        }
        for bad in ["", "with space", "ünï", &"x".repeat(65), "a/b"] {
            assert!(ClientMsgId::parse(bad.into()).is_err(), "{bad}");
        }
    }
}
