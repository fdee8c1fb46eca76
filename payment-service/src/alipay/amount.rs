//! Money as Alipay writes it (`"1776.00"`, `"0.1"`) and as we keep it: integer cents.
//!
//! Parsing never goes through floating point: `"0.1"` and `"0.10"` are both 10 cents,
//! `"0.101"`, `"1e3"`, `"-1"`, `" 1"` and `""` are refused.

use std::fmt;

/// An amount of yuan in integer cents (fen); never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

/// Alipay's ceiling for one trade: 100,000,000.00 yuan.
pub const MAX_CENTS: i64 = 10_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an amount like 12.30")]
pub struct AmountError(pub String);

impl Amount {
    pub const ZERO: Amount = Amount(0);

    pub fn from_cents(cents: i64) -> Option<Self> {
        (0..=MAX_CENTS).contains(&cents).then_some(Self(cents))
    }

    pub fn cents(self) -> i64 {
        self.0
    }

    /// Parses a decimal string with at most two fraction digits.
    pub fn parse(text: &str) -> Result<Self, AmountError> {
        let fail = || AmountError(text.to_owned());
        let (units, fraction) = match text.split_once('.') {
            Some((units, fraction)) => (units, Some(fraction)),
            None => (text, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(units) || units.len() > 12 || (units.len() > 1 && units.starts_with('0')) {
            return Err(fail());
        }
        let fraction_cents = match fraction {
            None => 0,
            Some(f) if digits(f) && f.len() <= 2 => {
                let value: i64 = f.parse().map_err(|_| fail())?;
                if f.len() == 1 { value * 10 } else { value }
            }
            Some(_) => return Err(fail()),
        };
        let units: i64 = units.parse().map_err(|_| fail())?;
        units
            .checked_mul(100)
            .and_then(|c| c.checked_add(fraction_cents))
            .and_then(Self::from_cents)
            .ok_or_else(fail)
    }
}

impl fmt::Display for Amount {
    /// Always two fraction digits, as Alipay expects in requests: `1776.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_become_exact_cents() {
        let cases = [
            ("0.1", 10),
            ("0.10", 10),
            ("0.01", 1),
            ("1776.00", 177_600),
            ("1776", 177_600),
            ("0", 0),
            ("100000000.00", MAX_CENTS),
        ];
        for (text, cents) in cases {
            assert_eq!(Amount::parse(text).map(Amount::cents), Ok(cents), "{text}");
        }
    }

    #[test]
    fn anything_but_a_plain_decimal_is_refused() {
        for text in [
            "",
            " 1",
            "1 ",
            "-1",
            "+1",
            "1.",
            ".5",
            "0.101",
            "1e3",
            "1,00",
            "01.00",
            "NaN",
            "100000000.01",
            "99999999999999999999",
            "１.00",
        ] {
            assert!(Amount::parse(text).is_err(), "{text:?} should be refused");
        }
    }

    #[test]
    fn amounts_print_with_two_fraction_digits_and_round_trip() {
        for cents in [0, 1, 10, 99, 100, 177_600, MAX_CENTS] {
            let amount = Amount::from_cents(cents).unwrap();
            assert_eq!(Amount::parse(&amount.to_string()), Ok(amount));
        }
        assert_eq!(Amount::from_cents(5).unwrap().to_string(), "0.05");
    }
}
