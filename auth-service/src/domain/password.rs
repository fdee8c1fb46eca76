//! The password policy: 12–128 characters (never truncated), not a common password, not
//! a repetition of one character or of the account's own name or e-mail.

use std::collections::HashSet;
use std::sync::LazyLock;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;

/// A password that satisfies the policy, ready to be hashed.
pub struct NewPassword(String);

impl NewPassword {
    /// `personal` holds the account name, e-mail and display name the password must not be.
    pub fn parse(raw: &str, personal: &[&str]) -> Result<Self, String> {
        let chars = raw.chars().count();
        if chars < MIN_CHARS {
            return Err(format!("must be at least {MIN_CHARS} characters long"));
        }
        if chars > MAX_CHARS {
            return Err(format!("must be at most {MAX_CHARS} characters long"));
        }
        let lower = raw.to_lowercase();
        if is_common(&lower) {
            return Err("is too common; choose a less guessable password".into());
        }
        let mut distinct: Vec<char> = lower.chars().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < 4 {
            return Err("must use more than a few distinct characters".into());
        }
        let personal_match = personal
            .iter()
            .map(|p| p.trim().to_lowercase())
            .filter(|p| p.len() >= 3)
            .any(|p| {
                lower == p || lower.trim_end_matches(|c: char| c.is_ascii_digit() || c == '!') == p
            });
        if personal_match {
            return Err("must not be your account name, e-mail or name".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

const SUFFIXES: &[&str] = &[
    "",
    "!",
    "1",
    "12",
    "123",
    "1234",
    "12345",
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "1!",
    "123!",
    "@123",
    "#123",
    "01",
    "007",
    "111",
    "666",
    "888",
    "999",
    "520",
    "1314",
    "5201314",
    "2020",
    "2021",
    "2022",
    "2023",
    "2024",
    "2025",
    "2026",
    "2027",
    "!@#",
    "!@#$",
];

static COMMON: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut set = HashSet::new();
    for stem in include_str!("common_password_words.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        for suffix in SUFFIXES {
            set.insert(format!("{stem}{suffix}"));
            set.insert(format!("{stem}{stem}{suffix}"));
        }
    }
    // Digit runs and keyboard walks of every length that passes the length rule.
    for run in [
        "12345678901234567890",
        "09876543210987654321",
        "qwertyuiopasdfghjklzxcvbnm",
        "1qaz2wsx3edc4rfv5tgb6yhn",
        "1q2w3e4r5t6y7u8i9o0p",
        "qazwsxedcrfvtgbyhnujm",
        "abcdefghijklmnopqrstuvwxyz",
        "123123123123123123",
        "123321123321123321",
        "147258369147258369",
    ] {
        for len in MIN_CHARS..=run.len() {
            set.insert(run[..len].to_owned());
        }
    }
    set
});

fn is_common(lower: &str) -> bool {
    COMMON.contains(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters_and_never_truncated() {
        assert!(NewPassword::parse("short-pass1", &[]).is_err());
        assert!(
            NewPassword::parse("旅行者的长密码很安全吧对吗", &[]).is_ok(),
            "12 CJK characters"
        );
        let long = "correct horse battery staple ".repeat(5);
        assert_eq!(
            NewPassword::parse(&long[..128], &[]).map(|p| p.expose().len()),
            Ok(128)
        );
        assert!(NewPassword::parse(&long[..129], &[]).is_err());
    }

    #[test]
    fn common_and_personal_passwords_are_refused() {
        for raw in [
            "password1234",
            "Password123456",
            "passwordpassword",
            "123456789012",
            "qwertyuiop123",
            "iloveyou2026",
            "woaini5201314",
            "1qaz2wsx3edc",
            "aaaaaaaaaaaaaa",
            "abababababab",
        ] {
            assert!(
                NewPassword::parse(raw, &[]).is_err(),
                "{raw} should be refused"
            );
        }
        assert!(NewPassword::parse("travel.lover", &["travel.lover"]).is_err());
        assert!(NewPassword::parse("travel.lover2026", &["Travel.Lover"]).is_err());
    }

    #[test]
    fn reasonable_passphrases_pass() {
        for raw in [
            "correct horse battery",
            "Lijiang-in-May-2026",
            "tea & dumplings at noon",
        ] {
            assert!(NewPassword::parse(raw, &["alice"]).is_ok(), "{raw}");
        }
    }
}
