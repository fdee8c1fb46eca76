/// The text of a message: 1 to 4,000 characters, not only whitespace, no control
/// characters other than line breaks and tabs. Kept as written (not trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

pub const MAX_BODY_CHARS: usize = 4_000;

impl MessageBody {
    pub fn parse(raw: String) -> Result<Self, String> {
        if raw.trim().is_empty() {
            return Err("must not be empty".into());
        }
        if raw.chars().count() > MAX_BODY_CHARS {
            return Err(format!("must be at most {MAX_BODY_CHARS} characters long"));
        }
        if raw
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err("must not contain control characters".into());
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_keep_their_text_and_count_characters_not_bytes() {
        let cases = [
            "hi",
            "  two lines\nwith\ttab  ",
            &"路".repeat(MAX_BODY_CHARS),
        ];
        for raw in cases {
            assert_eq!(MessageBody::parse(raw.to_owned()).unwrap().as_str(), raw);
        }
    }

    #[test]
    fn empty_oversized_and_control_bodies_are_refused() {
        let long = "x".repeat(MAX_BODY_CHARS + 1);
        for raw in ["", " \n\t ", &long, "bell\u{7}", "nul\u{0}"] {
            assert!(MessageBody::parse(raw.to_owned()).is_err(), "{raw:?}");
        }
    }
}
