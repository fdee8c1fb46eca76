//! Unguessable identifiers from the operating system's CSPRNG.

/// `bytes` random bytes as lowercase hex (so `token_hex(16)` carries 128 bits).
///
/// Lowercase hex survives the gateway's path canonicalisation unchanged, so such ids can
/// appear in paths (`/v1/auth/sessions/{sid}`).
pub fn token_hex(bytes: usize) -> String {
    hex::encode(random_bytes(bytes))
}

pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    // The OS generator failing means the machine cannot produce secrets at all;
    // continuing with predictable bytes would be worse than stopping.
    #[allow(clippy::expect_used)]
    getrandom::getrandom(&mut buf).expect("the operating system's random generator failed");
    buf
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_have_the_requested_entropy_and_differ() {
        let a = super::token_hex(16);
        let b = super::token_hex(16);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
}
