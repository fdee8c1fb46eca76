//! The client's address, as far as the gateway can trust it.
//!
//! Each proxy appends the address it received the connection from to `X-Forwarded-For`.
//! That header is believed only as far as it was written by proxies we know: when the
//! connection's peer is one of the `TRUSTED_PROXIES`, the header is walked from the right,
//! past every hop that is itself a trusted proxy; the first address that is not is the
//! client. A peer that is not a trusted proxy is the client, whatever it sends, so a caller
//! reaching the gateway directly cannot pick its own address.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` entries are believed: addresses and networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// No proxy is trusted: the peer is the client.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// `127.0.0.1/32,10.0.0.0/8,::1`: comma-separated addresses (one host each) and networks.
impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let net = match entry.parse::<IpAddr>() {
                Ok(ip) => IpNet::from(ip.to_canonical()),
                Err(_) => entry.parse::<IpNet>().map_err(|_| {
                    format!(
                        "{entry:?} is not an IP address or network (like 10.0.0.0/8); \
                         list the proxies' addresses, not how many there are"
                    )
                })?,
            };
            if net.trunc() != net {
                return Err(format!(
                    "{entry:?} has host bits set; did you mean {}?",
                    net.trunc()
                ));
            }
            nets.push(net);
        }
        Ok(Self(nets))
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.0.iter().map(IpNet::to_string).collect();
        f.write_str(&list.join(","))
    }
}

pub fn resolve(forwarded_for: Option<&str>, peer: IpAddr, trusted: &TrustedProxies) -> IpAddr {
    let mut client = peer.to_canonical();
    if !trusted.contains(client) {
        return client;
    }
    let hops = forwarded_for.unwrap_or("").rsplit(',').map(str::trim);
    for hop in hops.filter(|h| !h.is_empty()) {
        match hop.parse::<IpAddr>() {
            Ok(ip) => client = ip.to_canonical(),
            // A garbled entry was not written by a proxy we trust: the last trusted hop
            // saw the connection and is all we know.
            Err(_) => return client,
        }
        if !trusted.contains(client) {
            return client;
        }
    }
    // Every hop is a trusted proxy (e.g. a health check from nginx's own host).
    client
}

#[cfg(test)]
mod tests {
    use super::{TrustedProxies, resolve};

    fn ip(text: &str) -> std::net::IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_peer() {
        let trusted: TrustedProxies = "127.0.0.1/32, 10.0.0.0/8".parse().unwrap();
        let cases = [
            // A direct caller is the client, whatever it claims.
            ("192.0.2.7", Some("203.0.113.9"), "192.0.2.7"),
            ("192.0.2.7", None, "192.0.2.7"),
            // nginx's entry names the client.
            ("127.0.0.1", Some("203.0.113.9"), "203.0.113.9"),
            ("127.0.0.1", None, "127.0.0.1"),
            // What the client wrote left of nginx's entry is not believed.
            ("127.0.0.1", Some("6.6.6.6, 203.0.113.9"), "203.0.113.9"),
            // A chain of trusted proxies is walked through.
            (
                "127.0.0.1",
                Some("6.6.6.6, 203.0.113.9, 10.1.2.3"),
                "203.0.113.9",
            ),
            // ... but not past the first untrusted hop, even if a trusted one is left of it.
            ("127.0.0.1", Some("10.9.9.9, 203.0.113.9"), "203.0.113.9"),
            // Garbage stops the walk at the last hop we trust.
            ("127.0.0.1", Some("garbage"), "127.0.0.1"),
            ("127.0.0.1", Some("6.6.6.6, garbage, 10.1.2.3"), "10.1.2.3"),
            // Only trusted proxies all the way: the left-most of them.
            ("127.0.0.1", Some("10.1.2.3"), "10.1.2.3"),
            // IPv4 peers seen through an IPv6 socket are the same addresses.
            ("::ffff:127.0.0.1", Some("203.0.113.9"), "203.0.113.9"),
            ("127.0.0.1", Some("::ffff:192.0.2.1"), "192.0.2.1"),
        ];
        for (peer, xff, expected) in cases {
            assert_eq!(
                resolve(xff, ip(peer), &trusted).to_string(),
                expected,
                "peer {peer}, X-Forwarded-For {xff:?}"
            );
        }
    }

    #[test]
    fn by_default_no_proxy_is_trusted() {
        let none = TrustedProxies::none();
        assert_eq!(
            resolve(Some("203.0.113.9"), ip("127.0.0.1"), &none),
            ip("127.0.0.1")
        );
        assert_eq!("".parse::<TrustedProxies>().unwrap(), none);
    }

    #[test]
    fn the_list_takes_addresses_and_networks_and_names_a_bad_entry() {
        let trusted: TrustedProxies = "127.0.0.1,::1,172.28.0.0/16".parse().unwrap();
        assert_eq!(trusted.to_string(), "127.0.0.1/32,::1/128,172.28.0.0/16");
        assert!(trusted.contains(ip("172.28.200.1")));
        assert!(!trusted.contains(ip("172.29.0.1")));
        for bad in ["1", "nginx", "10.0.0.0/33", "10.0.0.1/8", "127.0.0.1, x"] {
            let err = bad.parse::<TrustedProxies>().unwrap_err();
            assert!(err.contains('"'), "{bad}: {err}");
        }
        assert!(
            "1".parse::<TrustedProxies>()
                .unwrap_err()
                .contains("not how many")
        );
    }
}
