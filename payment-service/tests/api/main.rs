//! payment-service in-process on real Redis and SQLite or PostgreSQL
//! (`TEST_DATABASE_URL`), with the fake Alipay and a fake recommend-service on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake_recommend;
mod gateway_standin;
mod helpers;

mod idempotency;
mod jobs;
mod notify;
mod orders;
mod refunds;
mod signing;
