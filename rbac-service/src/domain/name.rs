/// A resource or role name: 2–64 characters of `a-z 0-9 _ -`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        let valid = (2..=64).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(
                "must be 2 to 64 characters of a-z, 0-9, '_' and '-', starting with a letter"
                    .into(),
            )
        }
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}
