/// An account name: 3–32 characters of `a-z 0-9 _ . -`, starting with a letter; stored
/// lowercase, so `Alice` and `alice` are the same account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account(String);

impl Account {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let account = raw.trim().to_ascii_lowercase();
        if !(3..=32).contains(&account.len()) {
            return Err("must be 3 to 32 characters long".into());
        }
        if !account.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err("must start with a letter".into());
        }
        if !account.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        }) {
            return Err("may contain only letters, digits, '_', '.' and '-'".into());
        }
        Ok(Self(account))
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
    use super::Account;

    #[test]
    fn accounts_are_normalised_to_lowercase() {
        assert_eq!(Account::parse(" Alice.Li ").unwrap().as_str(), "alice.li");
    }

    #[test]
    fn invalid_accounts_are_refused_with_a_reason() {
        for raw in [
            "ab",
            "1alice",
            "alice li",
            "ålice",
            "a".repeat(33).as_str(),
            "al/ce",
        ] {
            assert!(Account::parse(raw).is_err(), "{raw}");
        }
    }
}
