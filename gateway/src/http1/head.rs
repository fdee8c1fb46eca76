//! Reading a request head and deciding whether it is plain: HTTP/1.1, an origin-form
//! target, a method the gateway routes, at most one `Content-Length` that the forwarder
//! buffers whole, and no `Transfer-Encoding`, `Upgrade`, `Expect` or `Connection` other
//! than `close` / `keep-alive`. A plain request is all but every request; anything else
//! (and anything malformed) goes to hyper, which knows every corner of the protocol.
//! Nothing here has to be right about what it passes on: only strict about what it keeps.
//! A header name `http` does not take (httparse takes a few more bytes) is found when the
//! head is built ([`Scanned::into_parts`]): that request goes to hyper too.

use std::ops::Range;

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Uri, Version};
use smallvec::SmallVec;

/// The most headers a plain request has (hyper takes up to 100).
pub const MAX_HEADERS: usize = 48;
/// The longest plain head: a longer one goes to hyper (which answers 431 past its limit).
pub const MAX_HEAD: usize = 16 * 1024;

/// What the bytes read so far are.
// Returned once per request, in place: a box would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    /// The start of a head: more bytes are needed.
    Partial,
    /// A plain request's head.
    Plain(Scanned),
    /// Not plain, or not a request: hyper's to serve (or to refuse).
    Other,
}

/// A plain head, as positions in the bytes it was read from: built into [`Parts`] once
/// those bytes are split off, so that its values share them.
pub struct Scanned {
    /// The head's length, blank line included.
    pub len: usize,
    /// The body's length: it follows the head.
    pub body_len: usize,
    /// The client asked to close the connection after the answer.
    pub close: bool,
    method: Method,
    target: Span,
    /// Each header's name and value (a head is at most [`MAX_HEAD`] long).
    fields: SmallVec<[(Span, Span); 24]>,
}

/// Where some bytes of a head are: small, as a head's positions are moved with it.
#[derive(Clone, Copy)]
struct Span {
    start: u16,
    len: u16,
}

impl Span {
    fn range(self) -> Range<usize> {
        let start = usize::from(self.start);
        start..start + usize::from(self.len)
    }
}

/// Reads the head at the start of `buf`; `body_limit`: the longest body a plain request
/// may have.
pub fn parse(buf: &[u8], body_limit: u64) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Parsed::Partial,
        // Too long, too many headers, or malformed.
        Ok(httparse::Status::Partial) | Err(_) => return Parsed::Other,
    };
    if len > MAX_HEAD || request.version != Some(1) {
        return Parsed::Other;
    }
    let method = match request.method {
        Some("GET") => Method::GET,
        Some("POST") => Method::POST,
        Some("PUT") => Method::PUT,
        Some("PATCH") => Method::PATCH,
        Some("DELETE") => Method::DELETE,
        Some("OPTIONS") => Method::OPTIONS,
        // HEAD's answers are framed without a body: hyper's rules, kept in one place.
        _ => return Parsed::Other,
    };
    // Within MAX_HEAD (checked above), so within u16.
    let at = |part: &[u8]| Span {
        start: (part.as_ptr() as usize - buf.as_ptr() as usize) as u16,
        len: part.len() as u16,
    };
    let target = match request.path {
        Some(path) if path.starts_with('/') => at(path.as_bytes()),
        _ => return Parsed::Other,
    };
    let mut body_len = None;
    let mut close = false;
    let mut fields = SmallVec::new();
    for field in request.headers.iter() {
        let name = field.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            match (body_len, content_length(field.value)) {
                (None, Some(n)) if n <= body_limit => body_len = Some(n),
                // A second length (even an equal one), or one that is not plain digits.
                _ => return Parsed::Other,
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            match connection_option(field.value) {
                Some(closing) => close |= closing,
                None => return Parsed::Other,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding")
            || name.eq_ignore_ascii_case(b"upgrade")
            || name.eq_ignore_ascii_case(b"expect")
        {
            return Parsed::Other;
        }
        fields.push((at(name), at(field.value)));
    }
    Parsed::Plain(Scanned {
        len,
        body_len: body_len.map_or(0, |n| n as usize),
        close,
        method,
        target,
        fields,
    })
}

/// A `Content-Length` of 1 to 18 digits, nothing else.
fn content_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
}

/// `Some(true)` for `close`, `Some(false)` for `keep-alive`, `None` for anything else
/// (a list, `upgrade`, a hop-by-hop header's name).
fn connection_option(value: &[u8]) -> Option<bool> {
    let value = value.trim_ascii();
    if value.eq_ignore_ascii_case(b"close") {
        Some(true)
    } else if value.eq_ignore_ascii_case(b"keep-alive") {
        Some(false)
    } else {
        None
    }
}

impl Scanned {
    /// The request's head, its target and values shared with `head` (the bytes it was
    /// scanned in, split off); `None` if the target is not one `http` reads.
    pub fn into_parts(self, head: &Bytes) -> Option<Parts> {
        let uri = Uri::from_maybe_shared(head.slice(self.target.range())).ok()?;
        let mut headers = HeaderMap::with_capacity(self.fields.len());
        for (name, value) in self.fields {
            let name = HeaderName::from_bytes(&head[name.range()]).ok()?;
            // httparse let only these bytes through: the check cannot fail.
            let value = HeaderValue::from_maybe_shared(head.slice(value.range())).ok()?;
            headers.append(name, value);
        }
        let (mut parts, ()) = Request::new(()).into_parts();
        parts.method = self.method;
        parts.uri = uri;
        parts.version = Version::HTTP_11;
        parts.headers = headers;
        Some(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: u64 = 64 * 1024;

    fn plain(raw: &str) -> Scanned {
        match parse(raw.as_bytes(), LIMIT) {
            Parsed::Plain(scanned) => scanned,
            Parsed::Partial => panic!("partial: {raw:?}"),
            Parsed::Other => panic!("not plain: {raw:?}"),
        }
    }

    fn is_other(raw: &str) -> bool {
        matches!(parse(raw.as_bytes(), LIMIT), Parsed::Other)
    }

    #[test]
    fn a_plain_request_reads_as_hyper_would_hand_it_on() {
        let raw = "POST /v1/orders?x=1 HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\n\
                   X-Two: a\r\nx-two: b\r\n\r\n{}";
        let scanned = plain(raw);
        assert_eq!(scanned.len, raw.len() - 2);
        assert_eq!(scanned.body_len, 2);
        assert!(!scanned.close);
        let head = Bytes::copy_from_slice(&raw.as_bytes()[..scanned.len]);
        let parts = scanned.into_parts(&head).unwrap();
        assert_eq!(parts.method, Method::POST);
        assert_eq!(parts.uri.path(), "/v1/orders");
        assert_eq!(parts.uri.query(), Some("x=1"));
        assert_eq!(parts.version, Version::HTTP_11);
        assert_eq!(parts.headers["host"], "gw");
        let twos: Vec<_> = parts.headers.get_all("x-two").iter().collect();
        assert_eq!(twos, ["a", "b"]);
    }

    #[test]
    fn a_head_in_pieces_is_partial_until_its_blank_line() {
        let raw = "GET /v1/trips HTTP/1.1\r\nHost: gw\r\n\r\n";
        for end in 1..raw.len() {
            assert!(
                matches!(parse(&raw.as_bytes()[..end], LIMIT), Parsed::Partial),
                "{end}"
            );
        }
        assert_eq!(plain(raw).len, raw.len());
    }

    #[test]
    fn connection_close_is_kept_and_keep_alive_is_the_default() {
        assert!(plain("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").close);
        assert!(!plain("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n").close);
    }

    /// What could frame a body two ways (request smuggling), switch protocols or ask for
    /// an interim answer is never read here: hyper serves it (or refuses it).
    #[test]
    fn every_request_that_is_not_plain_goes_to_hyper() {
        for raw in [
            // Framing: chunked, both, two lengths (equal or not), a length not plain digits.
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            // A body longer than the forwarder buffers (it streams it).
            "POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n",
            // Switching, interim answers, connection options.
            "GET /v1/chat HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            "GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
            "GET / HTTP/1.1\r\nConnection: keep-alive, x-drop-me\r\n\r\n",
            // Other versions, methods and targets.
            "GET / HTTP/1.0\r\n\r\n",
            "HEAD / HTTP/1.1\r\n\r\n",
            "CONNECT gw:443 HTTP/1.1\r\n\r\n",
            "TRACE / HTTP/1.1\r\n\r\n",
            "PURGE / HTTP/1.1\r\n\r\n",
            "GET http://gw/ HTTP/1.1\r\n\r\n",
            "OPTIONS * HTTP/1.1\r\n\r\n",
            // Malformed: folded lines, a space before the colon, a bare LF in a value,
            // control bytes, not HTTP at all.
            "GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length : 3\r\n\r\n",
            "GET / HTTP/1.1\r\nX-A: 1\x00\r\n\r\n",
            "GET / HTTP/2\r\n\r\n",
            "\x16\x03\x01\x02\x00\x01\x00\x01\x7c\x03\x03",
        ] {
            assert!(is_other(raw), "{raw:?} was read as plain");
        }
    }

    #[test]
    fn too_long_or_too_many_goes_to_hyper() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(is_other(&long));
        let unfinished = format!("GET / HTTP/1.1\r\nX-A: {}", "a".repeat(MAX_HEAD));
        assert!(is_other(&unfinished));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        assert!(is_other(&format!("GET / HTTP/1.1\r\n{many}\r\n")));
        let enough: String = (0..MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        assert!(!is_other(&format!("GET / HTTP/1.1\r\n{enough}\r\n")));
    }

    #[test]
    fn the_longest_body_read_here_is_the_limit() {
        let at = plain("POST / HTTP/1.1\r\nContent-Length: 65536\r\n\r\n");
        assert_eq!(at.body_len, 65536);
        assert_eq!(plain("POST / HTTP/1.1\r\n\r\n").body_len, 0);
        assert_eq!(
            plain("POST / HTTP/1.1\r\nContent-Length: 007\r\n\r\n").body_len,
            7
        );
    }
}
