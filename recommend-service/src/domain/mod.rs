//! Parsed, valid values: a handler turns raw input into these or answers 422.

mod rating;
mod trip;

pub use rating::Score;
pub use trip::{SignalKind, TripDraft, TripPatch, TripStatus, parse_tag};
