//! Waypoint end to end: real services behind two real gateway replicas, real Redis, and
//! SQLite or PostgreSQL (`TEST_DATABASE_URL`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod api_docs;
mod bad_input;
mod chat;
mod client_connections;
mod client_protocol;
mod custom_roles;
mod edge;
mod empty_patches;
mod fleet_start;
mod internal_token;
mod jwt_rejection;
mod login_throttling;
mod metrics;
mod payments;
mod public_identity;
mod rate_limits;
mod rbac_admin;
mod rbac_built_ins;
mod rbac_enforcement;
mod redis_failover;
mod redis_outage;
mod replicas;
mod role_revocation;
mod rolling_restart;
mod route_table;
mod session_cache;
mod session_record;
mod sessions;
mod single_sign_on;
mod spoofing;
mod traces;
mod trip_catalog;
mod upstream_connections;
mod user_admin;
mod wechat;
