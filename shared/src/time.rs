//! Timestamps: stored as UTC `TIMESTAMP` (naive) in both databases, rendered as RFC 3339
//! with `Z` in JSON.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

/// Now, truncated to microseconds (the precision both databases keep), so a value read
/// back equals the value written.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Milliseconds since the Unix epoch (straight from the clock: going through a chrono
/// date converts to a calendar date and back, ~350 instructions on each request).
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Serde helpers: `#[serde(with = "shared::time::rfc3339")]`.
pub mod rfc3339 {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc).naive_utc())
            .map_err(serde::de::Error::custom)
    }

    pub fn format(value: &NaiveDateTime) -> String {
        value
            .and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}

/// Serde helpers for optional timestamps.
pub mod rfc3339_opt {
    use super::*;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(
        value: &Option<NaiveDateTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::rfc3339::serialize(value, s),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_millis_is_chronos_clock() {
        let before = chrono::Utc::now().timestamp_millis();
        let now = super::now_millis();
        let after = chrono::Utc::now().timestamp_millis();
        assert!(before <= now && now <= after, "{before} {now} {after}");
    }

    #[test]
    fn timestamps_render_as_utc_rfc3339() {
        let t = DateTime::parse_from_rfc3339("2026-11-26T15:11:18.123456+08:00").unwrap();
        assert_eq!(rfc3339::format(&t.naive_utc()), "2026-11-26T07:11:18Z");
    }
}
