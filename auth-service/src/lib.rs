//! auth-service: users, passwords, sessions (the single sign-on allow-list in Redis) and
//! the RS256 access tokens the gateway verifies.

pub mod accounts;
pub mod bootstrap;
pub mod config;
pub mod context;
pub mod domain;
pub mod keys;
pub mod metrics;
pub mod models;
pub mod openapi;
pub mod passwords;
pub mod refresh_cookie;
pub mod routes;
pub mod schema;
pub mod sessions;
pub mod startup;
pub mod throttle;
pub mod tokens;
pub mod wechat;

pub use config::Settings;
pub use startup::Application;
