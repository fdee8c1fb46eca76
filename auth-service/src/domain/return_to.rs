/// Where to send the browser after an OAuth round trip: a path on this site, never another
/// site. Only a path-absolute reference (`/trips?page=2`) is accepted; anything a browser
/// could read as another host (`//evil.com`, `/\evil.com`, `https://…`, `javascript:…`,
/// encoded slashes, dot segments, control characters) is refused, not repaired. Non-ASCII
/// characters are percent-encoded so the value fits in a `Location` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnTo(String);

const MAX_LEN: usize = 1024;

impl ReturnTo {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let refuse = |why: &str| Err(format!("must be a path on this site ({why})"));
        if raw.is_empty() || raw.len() > MAX_LEN {
            return refuse("1 to 1024 characters");
        }
        let bytes = raw.as_bytes();
        if bytes[0] != b'/' {
            return refuse("starting with '/'");
        }
        if matches!(bytes.get(1), Some(b'/' | b'\\')) {
            return refuse("not '//' or '/\\'");
        }
        let mut out = String::with_capacity(raw.len());
        let mut in_query = false;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match b {
                b'?' => {
                    in_query = true;
                    out.push('?');
                }
                b'%' => {
                    let decoded = bytes
                        .get(i + 1..i + 3)
                        .and_then(|hex| std::str::from_utf8(hex).ok())
                        .and_then(|hex| u8::from_str_radix(hex, 16).ok());
                    let Some(decoded) = decoded else {
                        return refuse("a '%' must start an escape");
                    };
                    if decoded.is_ascii_control() || decoded == b' ' {
                        return refuse("no control characters or spaces");
                    }
                    if !in_query && matches!(decoded, b'/' | b'\\' | b'.' | b'%') {
                        return refuse("no encoded '/', '\\', '.' or '%' in the path");
                    }
                    out.push_str(&raw[i..i + 3]);
                    i += 3;
                    continue;
                }
                b if b >= 0x80 => out.push_str(&format!("%{b:02X}")),
                b if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) => {
                    out.push(char::from(b))
                }
                _ => return refuse("no spaces, backslashes, '#' or control characters"),
            }
            i += 1;
        }
        let path = out.split('?').next().unwrap_or("");
        if path
            .split('/')
            .any(|segment| segment == "." || segment == "..")
        {
            return refuse("no '.' or '..' segments");
        }
        Ok(Self(out))
    }

    /// The site's root, when the caller asked for nothing else.
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This path with `fragment` appended (the browser keeps fragments out of requests,
    /// so they never reach a server log).
    pub fn with_fragment(&self, fragment: &str) -> String {
        format!("{}#{fragment}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::ReturnTo;

    #[test]
    fn same_site_paths_are_kept() {
        for raw in [
            "/",
            "/trips",
            "/trips/42?tab=reviews&page=2",
            "/search?q=%E6%9D%AD&next=%2Ftrips",
            "/javascript:alert(1)",
            "/a/b.c/d..e",
        ] {
            assert_eq!(ReturnTo::parse(raw).unwrap().as_str(), raw);
        }
    }

    #[test]
    fn non_ascii_is_percent_encoded() {
        assert_eq!(
            ReturnTo::parse("/trips?q=杭州").unwrap().as_str(),
            "/trips?q=%E6%9D%AD%E5%B7%9E"
        );
    }

    #[test]
    fn anything_that_could_leave_the_site_is_refused() {
        for raw in [
            "",
            "//evil.com",
            "///evil.com",
            "/\\evil.com",
            "\\/evil.com",
            "https://evil.com",
            "http:/evil.com",
            "javascript:alert(1)",
            "evil.com",
            " /trips",
            "/%2f%2fevil.com",
            "/%2F/evil.com",
            "/%5cevil.com",
            "/..//evil.com",
            "/trips/../..//evil.com",
            "/./",
            "/%2e%2e/evil.com",
            "/trips#frag",
            "/trips\r\nSet-Cookie: x=1",
            "/trips%0d%0aSet-Cookie:%20x=1",
            "/tr ips",
            "/trips\t",
            "/a%",
            "/a%zz",
            "/a%25%32%66",
            &format!("/{}", "a".repeat(1024)),
        ] {
            assert!(ReturnTo::parse(raw).is_err(), "{raw:?} should be refused");
        }
    }
}
