//! What every Waypoint service shares, and nothing service-specific.
//!
//! A service is built from these pieces: [`config`] reads typed settings from the
//! environment, [`telemetry`] sets up logging, [`http`] supplies the request-id span and
//! the JSON error rendering for everything actix would otherwise answer in plain text,
//! [`error::ApiError`] is the one error type, [`list`] parses list queries into pages,
//! [`db`] runs diesel on SQLite or PostgreSQL, [`redis`] wraps the shared Redis,
//! [`session`] is the session record every service reads, and [`identity`] reads the
//! identity the gateway vouches for.

pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod identity;
pub mod json;
pub mod list;
pub mod metrics;
pub mod openapi;
pub mod otel;
pub mod policy;
pub mod random;
pub mod redis;
pub mod replicas;
pub mod request;
pub mod server;
pub mod session;
pub mod tasks;
pub mod telemetry;
pub mod time;
pub mod token;
pub mod trace;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::{ApiError, Code, ErrorKind};
