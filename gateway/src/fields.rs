//! An answer's header lines written as bytes (`name: value\r\n`): a service's headers
//! relayed, and the gateway's rate-limit numbers and request id. A header map hashed and
//! inserted each of them only for the server to encode them again (parsing the service's
//! answer into a map and adding the rate limits to it were ~5,000 of a forwarded request's
//! ~35,000 instructions); these are copied once. The gateway's own server writes them
//! after the answer's header map; hyper, which takes only a map, gets them moved into it
//! ([`crate::body::for_hyper`]).

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};

#[derive(Default, Debug)]
pub struct Fields {
    lines: Vec<u8>,
    has_date: bool,
}

impl Fields {
    /// Room for a service's usual headers and the gateway's.
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            lines: Vec::with_capacity(bytes),
            has_date: false,
        }
    }

    /// Adds a header; a value that is not a field value (a control byte) is left out, as
    /// `HeaderValue` refuses it.
    pub fn push(&mut self, name: &HeaderName, value: &[u8]) {
        if !is_field_value(value) {
            return;
        }
        self.has_date |= *name == header::DATE;
        crate::wire::push_field(&mut self.lines, name.as_str().as_bytes(), value);
    }

    /// Every line, each ending in CRLF.
    pub fn as_bytes(&self) -> &[u8] {
        &self.lines
    }

    pub fn has_date(&self) -> bool {
        self.has_date
    }

    /// The headers appended to `headers`, in order.
    pub fn move_into(self, headers: &mut HeaderMap) {
        for line in self.lines.split(|&b| b == b'\n') {
            let Some(line) = line.strip_suffix(b"\r") else {
                continue;
            };
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], &line[colon + 2..]);
            if let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
            {
                headers.append(name, value);
            }
        }
    }
}

/// What a header value may hold, as `HeaderValue` takes it: visible characters, spaces,
/// tabs, obs-text (no CR or LF: a value cannot end its line early). Checked without an
/// early exit, so that it runs over whole words: byte by byte, it cost ~250 instructions
/// for each of a signed-in request's identity headers.
pub fn is_field_value(value: &[u8]) -> bool {
    value.iter().fold(true, |ok, &b| {
        ok & (((b >= 0x20) & (b != 0x7f)) | (b == b'\t'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_written_once_and_read_back_as_a_header_map() {
        let mut fields = Fields::default();
        let custom = HeaderName::from_static("x-two");
        fields.push(&header::CONTENT_TYPE, b"application/json");
        fields.push(&custom, b"a");
        fields.push(&custom, b"b: c");
        fields.push(&custom, b"bad\r\nx-injected: 1");
        fields.push(&custom, b"");
        assert!(!fields.has_date());
        fields.push(&header::DATE, b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert!(fields.has_date());
        assert_eq!(
            fields.as_bytes(),
            b"content-type: application/json\r\nx-two: a\r\nx-two: b: c\r\nx-two: \r\n\
              date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        );
        let mut headers = HeaderMap::new();
        headers.insert(header::SERVER, HeaderValue::from_static("kept"));
        fields.move_into(&mut headers);
        assert_eq!(headers["server"], "kept");
        assert_eq!(headers["content-type"], "application/json");
        let twos: Vec<_> = headers.get_all("x-two").iter().collect();
        assert_eq!(twos, ["a", "b: c", ""]);
        assert!(!headers.contains_key("x-injected"));
        assert_eq!(headers.len(), 6);
    }

    #[test]
    fn a_field_value_is_what_header_value_takes() {
        for b in 0..=255u8 {
            assert_eq!(
                is_field_value(&[b'a', b]),
                HeaderValue::from_bytes(&[b'a', b]).is_ok(),
                "byte {b:#x}"
            );
        }
    }
}
