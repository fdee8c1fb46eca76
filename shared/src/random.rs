//! Unguessable identifiers from the operating system's CSPRNG.

/// `bytes` random bytes as lowercase hex (so `token_hex(16)` carries 128 bits).
///
/// Lowercase hex survives the gateway's path canonicalisation unchanged, so such ids can
/// appear in paths (`/v1/auth/sessions/{sid}`).
pub fn token_hex(bytes: usize) -> String {
    to_hex(&random_bytes(bytes))
}

pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    fill(&mut buf);
    buf
}

/// Fills `buf` from the OS generator (one system call, however many ids it makes).
pub fn fill(buf: &mut [u8]) {
    // The OS generator failing means the machine cannot produce secrets at all;
    // continuing with predictable bytes would be worse than stopping.
    #[allow(clippy::expect_used)]
    getrandom::getrandom(buf).expect("the operating system's random generator failed");
}

/// `bytes` as lowercase hex (`hex::encode` goes through a `char` iterator: ~10 times the
/// instructions, on every request's ids).
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
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

    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        assert_eq!(super::to_hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::to_hex(&[]), "");
    }
}
