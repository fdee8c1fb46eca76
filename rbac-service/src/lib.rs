//! rbac-service: the permission model (resources = named routes, permissions = route +
//! method, roles, user roles), the policy document the gateway enforces, and the
//! per-user roles cache the gateway reads.

pub mod auth_client;
pub mod bootstrap;
pub mod config;
pub mod context;
pub mod domain;
pub mod models;
pub mod openapi;
pub mod policy;
pub mod role_cache;
pub mod routes;
pub mod schema;
pub mod seed;
pub mod startup;

pub use config::Settings;
pub use startup::Application;
