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

/// Bytes each thread draws from the OS generator at once for [`fill_pooled`].
const POOL_BYTES: usize = 4096;

struct Pool {
    bytes: [u8; POOL_BYTES],
    /// Bytes before this one have been handed out (and wiped).
    next: usize,
}

thread_local! {
    static POOL: std::cell::RefCell<Pool> = const {
        std::cell::RefCell::new(Pool { bytes: [0; POOL_BYTES], next: POOL_BYTES })
    };
}

/// Fills `buf` with bytes from the OS generator, drawn through a per-thread pool refilled
/// one system call per 4 KiB: every request's fresh ids would otherwise cost one system
/// call each (a third of a microsecond and the kernel's generator lock). The bytes are
/// the OS generator's own, each handed out once and wiped from the pool; for ids, not for
/// secrets that must not sit in memory before use (those use [`fill`]).
pub fn fill_pooled(buf: &mut [u8]) {
    if buf.len() > POOL_BYTES {
        return fill(buf);
    }
    POOL.with_borrow_mut(|pool| {
        if POOL_BYTES - pool.next < buf.len() {
            fill(&mut pool.bytes);
            pool.next = 0;
        }
        let drawn = &mut pool.bytes[pool.next..pool.next + buf.len()];
        buf.copy_from_slice(drawn);
        drawn.fill(0);
        pool.next += buf.len();
    });
}

/// `bytes` as lowercase hex (`hex::encode` goes through a `char` iterator: ~10 times the
/// instructions, on every request's ids).
pub fn to_hex(bytes: &[u8]) -> String {
    let mut digits = vec![0; bytes.len() * 2];
    hex_into(bytes, &mut digits);
    String::from_utf8(digits).unwrap_or_default()
}

/// `bytes` as lowercase hex into `out` (twice as long; a shorter `out` takes what fits).
pub fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
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
    fn pooled_draws_differ_across_refills_and_large_ones_come_whole() {
        // 4096 / 24 is not whole: some draw straddles the end of the pool and refills it.
        let draws: Vec<[u8; 24]> = (0..400)
            .map(|_| {
                let mut id = [0u8; 24];
                super::fill_pooled(&mut id);
                id
            })
            .collect();
        let distinct: std::collections::HashSet<_> = draws.iter().collect();
        assert_eq!(distinct.len(), draws.len());
        assert!(draws.iter().all(|d| d.iter().any(|&b| b != 0)));
        let mut large = vec![0u8; super::POOL_BYTES + 1];
        super::fill_pooled(&mut large);
        assert!(large[super::POOL_BYTES - 64..].iter().any(|&b| b != 0));
    }

    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        assert_eq!(super::to_hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::to_hex(&[]), "");
    }
}
