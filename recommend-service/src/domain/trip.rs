//! A trip as an admin writes it: every field checked, all errors reported at once.

use serde::Deserialize;
use shared::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TripStatus {
    OnSale,
    OffSale,
}

impl TripStatus {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "on_sale" => Ok(Self::OnSale),
            "off_sale" => Ok(Self::OffSale),
            _ => Err("must be on_sale or off_sale".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnSale => "on_sale",
            Self::OffSale => "off_sale",
        }
    }
}

/// The `status` column as stored.
impl TryFrom<String> for TripStatus {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).map_err(|_| format!("trips.status holds {text:?}, not a trip status"))
    }
}

/// Implicit signals and their weight as a pseudo-rating (1–5) for the model; an
/// explicit rating of the same trip always wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    View,
    Favourite,
    Purchase,
}

impl SignalKind {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "view" => Ok(Self::View),
            "favourite" => Ok(Self::Favourite),
            "purchase" => Ok(Self::Purchase),
            _ => Err("must be view, favourite or purchase".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Favourite => "favourite",
            Self::Purchase => "purchase",
        }
    }

    pub fn weight(self) -> f32 {
        match self {
            Self::View => 1.0,
            Self::Favourite => 3.0,
            Self::Purchase => 4.0,
        }
    }
}

const MAX_PRICE_CENTS: i64 = 100_000_000;
const MAX_TAGS: usize = 20;

/// Every field of a trip, valid.
#[derive(Debug, Clone, PartialEq)]
pub struct TripDraft {
    pub title: String,
    pub destination: String,
    pub description: String,
    pub price_cents: i64,
    pub duration_days: i32,
    pub tags: Vec<String>,
    pub status: TripStatus,
}

/// The body of `POST` and `PATCH` alike: which fields are required is decided by the
/// handler (all for `POST`/`PUT` except the defaulted ones, none for `PATCH`).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TripPatch {
    /// 1–120 characters.
    pub title: Option<String>,
    /// 1–80 characters, e.g. "Lijiang".
    pub destination: Option<String>,
    /// Up to 5,000 characters; default empty.
    pub description: Option<String>,
    /// Price in integer cents (CNY), 0 to 100,000,000.
    pub price_cents: Option<i64>,
    /// 1–365.
    pub duration_days: Option<i64>,
    /// Up to 20 tags of 1–30 characters `a-z 0-9 -`; lowercased, duplicates dropped.
    pub tags: Option<Vec<String>>,
    /// `on_sale` (default) or `off_sale`.
    pub status: Option<String>,
}

impl TripDraft {
    /// A new trip (`POST`) or a full replacement (`PUT`, where `full` requires the
    /// defaulted fields too).
    pub fn parse(input: TripPatch, full: bool) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let mut required = |name: &str, present: bool| {
            if !present {
                errors.push((name.to_owned(), "is required".to_owned()));
            }
        };
        required("title", input.title.is_some());
        required("destination", input.destination.is_some());
        required("price_cents", input.price_cents.is_some());
        required("duration_days", input.duration_days.is_some());
        if full {
            required("description", input.description.is_some());
            required("tags", input.tags.is_some());
            required("status", input.status.is_some());
        }
        let base = Self {
            title: String::new(),
            destination: String::new(),
            description: String::new(),
            price_cents: 0,
            duration_days: 1,
            tags: Vec::new(),
            status: TripStatus::OnSale,
        };
        // Every bad field is named at once: the missing ones and the invalid ones.
        let (draft, invalid) = base.checked(input);
        errors.extend(invalid);
        if errors.is_empty() {
            Ok(draft)
        } else {
            Err(ApiError::validation_fields(errors))
        }
    }

    /// This trip with the fields `patch` names replaced, all of them checked.
    pub fn apply(self, patch: TripPatch) -> Result<Self, ApiError> {
        let (draft, errors) = self.checked(patch);
        if errors.is_empty() {
            Ok(draft)
        } else {
            Err(ApiError::validation_fields(errors))
        }
    }

    /// `patch` applied, and the fields that failed their checks.
    fn checked(mut self, patch: TripPatch) -> (Self, Vec<(String, String)>) {
        let mut errors: Vec<(String, String)> = Vec::new();
        let mut check = |name: &str, result: Result<(), String>| {
            if let Err(message) = result {
                errors.push((name.to_owned(), message));
            }
        };
        if let Some(title) = patch.title {
            check("title", text(&title, 1, 120).map(|t| self.title = t));
        }
        if let Some(destination) = patch.destination {
            check(
                "destination",
                text(&destination, 1, 80).map(|t| self.destination = t),
            );
        }
        if let Some(description) = patch.description {
            check(
                "description",
                text(&description, 0, 5000).map(|t| self.description = t),
            );
        }
        if let Some(price) = patch.price_cents {
            check(
                "price_cents",
                in_range(price, 0, MAX_PRICE_CENTS).map(|_| self.price_cents = price),
            );
        }
        if let Some(days) = patch.duration_days {
            check(
                "duration_days",
                in_range(days, 1, 365).map(|_| self.duration_days = days as i32),
            );
        }
        if let Some(tags) = patch.tags {
            check("tags", parse_tags(&tags).map(|t| self.tags = t));
        }
        if let Some(status) = patch.status {
            check(
                "status",
                TripStatus::parse(&status).map(|s| self.status = s),
            );
        }
        (self, errors)
    }
}

fn text(raw: &str, min: usize, max: usize) -> Result<String, String> {
    let value = raw.trim();
    let chars = value.chars().count();
    if chars < min || chars > max {
        return Err(format!("must be {min} to {max} characters long"));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err("must not contain control characters".into());
    }
    Ok(value.to_owned())
}

fn in_range(value: i64, min: i64, max: i64) -> Result<(), String> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(format!("must be between {min} and {max}"))
    }
}

/// A tag as the list filter takes it: 1–30 of `a-z 0-9 -`.
pub fn parse_tag(raw: &str) -> Result<String, String> {
    let tag = raw.trim().to_lowercase();
    let valid = (1..=30).contains(&tag.len())
        && tag
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(tag)
    } else {
        Err(format!("{raw:?} is not a tag: 1-30 of a-z, 0-9 and -"))
    }
}

fn parse_tags(raw: &[String]) -> Result<Vec<String>, String> {
    if raw.len() > MAX_TAGS {
        return Err(format!("at most {MAX_TAGS} tags"));
    }
    let mut tags: Vec<String> = Vec::with_capacity(raw.len());
    for tag in raw {
        let tag = parse_tag(tag)?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(err: ApiError) -> Vec<String> {
        let mut names: Vec<String> = err.details().unwrap()["fields"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    fn good() -> TripPatch {
        TripPatch {
            title: Some(" Old Town of Lijiang ".into()),
            destination: Some("Lijiang".into()),
            price_cents: Some(329_900),
            duration_days: Some(5),
            tags: Some(vec!["Culture".into(), "culture".into(), "food".into()]),
            ..TripPatch::default()
        }
    }

    #[test]
    fn a_valid_trip_is_trimmed_and_its_tags_normalised() {
        let trip = TripDraft::parse(good(), false).unwrap();
        assert_eq!(trip.title, "Old Town of Lijiang");
        assert_eq!(trip.tags, vec!["culture", "food"]);
        assert_eq!(trip.status, TripStatus::OnSale);
    }

    #[test]
    fn invalid_fields_are_all_named() {
        let bad = TripPatch {
            title: Some("  ".into()),
            price_cents: Some(-1),
            duration_days: Some(0),
            tags: Some(vec!["no spaces".into()]),
            status: Some("sold".into()),
            ..good()
        };
        assert_eq!(
            fields(TripDraft::parse(bad, false).unwrap_err()),
            ["duration_days", "price_cents", "status", "tags", "title"]
        );
        assert_eq!(
            fields(TripDraft::parse(TripPatch::default(), false).unwrap_err()),
            ["destination", "duration_days", "price_cents", "title"]
        );
        assert_eq!(
            fields(TripDraft::parse(good(), true).unwrap_err()),
            ["description", "status"]
        );
    }
}
