/// A person's display name: 1–64 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err("must be 1 to 64 characters long".into());
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::DisplayName;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  李伟 ").unwrap().into_inner(), "李伟");
        for raw in ["", "   ", "a\u{0}b", &"x".repeat(65)] {
            assert!(DisplayName::parse(raw).is_err(), "{raw:?}");
        }
    }
}
