//! Alipay's synchronous answers: `{"<method>_response": {...}, "sign": "..."}`, where the
//! signature covers the raw text of the `<method>_response` value exactly as it appears in
//! the body. The value is therefore cut out of the body as text (re-serialising parsed JSON
//! could reorder keys or change escapes), verified, and only then parsed.

/// The raw text of the value of top-level key `key` in the JSON object `body`.
pub fn raw_value<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let bytes = body.as_bytes();
    let mut at = skip_ws(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at += 1;
    loop {
        at = skip_ws(bytes, at);
        match bytes.get(at)? {
            b'}' => return None,
            b'"' => {}
            _ => return None,
        }
        let key_end = skip_string(bytes, at)?;
        let found = &body[at + 1..key_end - 1];
        at = skip_ws(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        let start = skip_ws(bytes, at + 1);
        let end = skip_value(bytes, start)?;
        if found == key {
            return Some(&body[start..end]);
        }
        at = skip_ws(bytes, end);
        match bytes.get(at)? {
            b',' => at += 1,
            b'}' => return None,
            _ => return None,
        }
    }
}

/// The top-level `sign` of a response, if any.
pub fn signature(body: &str) -> Option<String> {
    raw_value(body, "sign").and_then(|raw| serde_json::from_str::<String>(raw).ok())
}

fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

/// `at` is on the opening quote; returns the index just past the closing quote.
fn skip_string(bytes: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        match bytes.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// Returns the index just past the value starting at `at`.
fn skip_value(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => skip_string(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match bytes.get(i)? {
                    b'"' => {
                        i = skip_string(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = at;
            while bytes
                .get(i)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
            {
                i += 1;
            }
            (i > at).then_some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_raw_value_is_cut_out_exactly_as_written() {
        let body = r#" { "a_response" : {"x":"}\"{","y":[1,{"z":2}]} , "sign":"c2ln", "n": 5 }"#;
        assert_eq!(
            raw_value(body, "a_response"),
            Some(r#"{"x":"}\"{","y":[1,{"z":2}]}"#)
        );
        assert_eq!(signature(body).as_deref(), Some("c2ln"));
        assert_eq!(raw_value(body, "n"), Some("5"));
        assert_eq!(raw_value(body, "missing"), None);
    }

    #[test]
    fn malformed_bodies_yield_nothing() {
        for body in ["", "[]", "{", r#"{"a":"#, r#"{"a" 1}"#, "<html>"] {
            assert_eq!(raw_value(body, "a"), None, "{body}");
        }
    }
}
