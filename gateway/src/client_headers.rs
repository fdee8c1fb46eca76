//! The client's headers the gateway reads, picked up in one pass over them (the server's,
//! before the request's scope begins): a lookup by name hashes the name, and a signed-in
//! request made eight (about 600 instructions in `bench/gateway profile`).

use hyper::header::{self as rh, HeaderMap, HeaderName, HeaderValue};

pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static(shared::http::IDEMPOTENCY_KEY);
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static(shared::http::REQUEST_ID);
pub const TRACEPARENT: HeaderName = HeaderName::from_static(shared::trace::TRACEPARENT);

/// The first value of each header the gateway reads, and whether the rarer ones (read by
/// name when present) were sent at all.
#[derive(Default)]
pub struct ClientHeaders<'a> {
    pub accept: Option<&'a HeaderValue>,
    pub authorization: Option<&'a HeaderValue>,
    pub content_length: Option<&'a HeaderValue>,
    pub forwarded_for: Option<&'a HeaderValue>,
    pub forwarded_proto: Option<&'a HeaderValue>,
    pub forwarded_host: Option<&'a HeaderValue>,
    pub host: Option<&'a HeaderValue>,
    pub request_id: Option<&'a HeaderValue>,
    pub traceparent: Option<&'a HeaderValue>,
    pub transfer_encoding: bool,
    pub connection: bool,
    pub upgrade: bool,
    pub forwarded: bool,
    pub idempotency_key: bool,
}

impl<'a> ClientHeaders<'a> {
    pub fn pick(headers: &'a HeaderMap) -> Self {
        let mut sent = Self::default();
        for (name, value) in headers {
            sent.take(name, value);
        }
        sent
    }

    fn take(&mut self, name: &HeaderName, value: &'a HeaderValue) {
        let slot = if *name == rh::ACCEPT {
            &mut self.accept
        } else if *name == rh::AUTHORIZATION {
            &mut self.authorization
        } else if *name == rh::HOST {
            &mut self.host
        } else if *name == rh::CONTENT_LENGTH {
            &mut self.content_length
        } else if *name == X_FORWARDED_FOR {
            &mut self.forwarded_for
        } else if *name == X_FORWARDED_PROTO {
            &mut self.forwarded_proto
        } else if *name == X_FORWARDED_HOST {
            &mut self.forwarded_host
        } else if *name == X_REQUEST_ID {
            &mut self.request_id
        } else if *name == TRACEPARENT {
            &mut self.traceparent
        } else {
            let seen = if *name == rh::TRANSFER_ENCODING {
                &mut self.transfer_encoding
            } else if *name == rh::CONNECTION {
                &mut self.connection
            } else if *name == rh::UPGRADE {
                &mut self.upgrade
            } else if *name == rh::FORWARDED {
                &mut self.forwarded
            } else if *name == IDEMPOTENCY_KEY {
                &mut self.idempotency_key
            } else {
                return;
            };
            *seen = true;
            return;
        };
        slot.get_or_insert(value);
    }
}

#[cfg(test)]
mod tests {
    use hyper::header::{HeaderMap, HeaderName, HeaderValue};

    use super::ClientHeaders;

    /// Each field is what a lookup by name finds: the first value, or whether any.
    #[test]
    fn the_pass_finds_what_lookups_by_name_find() {
        let sent = [
            ("host", "waypoint.example"),
            ("accept", "application/json"),
            ("accept", "text/plain"),
            ("authorization", "Bearer a.b.c"),
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "outer.example"),
            ("x-request-id", "r-1"),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
            ("x-request-id", "r-2"),
            ("content-length", "2"),
            ("transfer-encoding", "chunked"),
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("forwarded", "proto=https"),
            ("idempotency-key", "k-1"),
            ("x-other", "1"),
        ];
        let mut headers = HeaderMap::new();
        for (name, value) in sent {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let picked = ClientHeaders::pick(&headers);
        let first = |name: &str| headers.get(name);
        assert_eq!(picked.accept, first("accept"));
        assert_eq!(picked.authorization, first("authorization"));
        assert_eq!(picked.content_length, first("content-length"));
        assert_eq!(picked.forwarded_for, first("x-forwarded-for"));
        assert_eq!(picked.forwarded_proto, first("x-forwarded-proto"));
        assert_eq!(picked.forwarded_host, first("x-forwarded-host"));
        assert_eq!(picked.host, first("host"));
        assert_eq!(picked.request_id, first("x-request-id"));
        assert_eq!(picked.traceparent, first("traceparent"));
        assert_eq!(picked.request_id.unwrap(), "r-1");
        assert_eq!(picked.accept.unwrap(), "application/json");
        assert_eq!(picked.forwarded_for.unwrap(), "203.0.113.9");
        let flags = [
            picked.transfer_encoding,
            picked.connection,
            picked.upgrade,
            picked.forwarded,
            picked.idempotency_key,
        ];
        assert_eq!(flags, [true; 5]);

        let empty = HeaderMap::new();
        let none = ClientHeaders::pick(&empty);
        assert!(none.accept.is_none() && none.authorization.is_none() && none.host.is_none());
        assert!(none.request_id.is_none() && none.traceparent.is_none());
        let flags = [
            none.transfer_encoding,
            none.connection,
            none.upgrade,
            none.forwarded,
            none.idempotency_key,
        ];
        assert_eq!(flags, [false; 5]);
    }
}
