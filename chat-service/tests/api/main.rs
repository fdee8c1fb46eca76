//! chat-service over HTTP and WebSocket: replicas in-process, real Redis, and SQLite or
//! PostgreSQL (`TEST_DATABASE_URL`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod conversations;
mod handshake;
mod limits;
mod live;
mod metrics;
mod recovery;
