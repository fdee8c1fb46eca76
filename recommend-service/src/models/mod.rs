pub mod rating;
pub mod signal;
pub mod trip;

pub use rating::{NewRating, Rating, RatingView};
pub use signal::{NewSignal, Signal};
pub use trip::{NewTrip, Trip, TripFilter, TripSort, TripSummary, TripView};
