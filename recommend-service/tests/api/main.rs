//! recommend-service through its HTTP API, called as the gateway would, on a private
//! Redis key space and a fresh database (SQLite, or PostgreSQL with `TEST_DATABASE_URL`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod auto;
mod cache;
mod import;
mod internal;
mod metrics;
mod ratings;
mod recommendations;
mod trips;
