//! The client's address, as far as the gateway can trust it.
//!
//! Each proxy appends the address it received the connection from to `X-Forwarded-For`.
//! With `trusted` proxies in front of the gateway, the client is `trusted` hops from the
//! right of `X-Forwarded-For + [peer]`; anything further left was written by the client
//! and may be forged, so it is never used.

use std::net::IpAddr;

pub fn resolve(forwarded_for: Option<&str>, peer: IpAddr, trusted: usize) -> IpAddr {
    if trusted == 0 {
        return peer;
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    for entry in forwarded_for
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        match entry.parse() {
            Ok(ip) => chain.push(ip),
            // A garbled entry: nothing left of it can be trusted.
            Err(_) => chain.clear(),
        }
    }
    chain.push(peer);
    let index = chain.len().saturating_sub(trusted + 1);
    chain[index]
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn the_client_is_read_the_trusted_number_of_hops_from_the_right() {
        let nginx: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let cases = [
            (None, 0, "127.0.0.1"),
            (Some("203.0.113.9"), 0, "127.0.0.1"),
            (Some("203.0.113.9"), 1, "203.0.113.9"),
            (Some("6.6.6.6, 203.0.113.9"), 1, "203.0.113.9"),
            (Some("6.6.6.6, 203.0.113.9"), 2, "6.6.6.6"),
            (None, 1, "127.0.0.1"),
            (Some("garbage"), 1, "127.0.0.1"),
            (Some("6.6.6.6, garbage, 203.0.113.9"), 5, "203.0.113.9"),
        ];
        for (xff, trusted, expected) in cases {
            assert_eq!(
                resolve(xff, nginx, trusted).to_string(),
                expected,
                "{xff:?} {trusted}"
            );
        }
    }
}
