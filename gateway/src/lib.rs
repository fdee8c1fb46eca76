//! The gateway: every request from outside passes here. It canonicalises the path, finds
//! the upstream service, authenticates the caller (JWT verified locally, session checked
//! in the shared Redis: the single sign-on) and forwards the request with the identity
//! headers services trust.

pub mod auth;
pub mod body;
pub mod client_headers;
pub mod client_ip;
pub mod config;
pub mod connections;
pub mod docs;
pub mod fast_map;
pub mod fields;
pub mod handler;
pub mod http1;
pub mod idle;
pub mod metrics;
pub mod path;
pub mod policy;
pub mod policy_store;
pub mod proxy;
pub mod pubsub;
pub mod ratelimit;
pub mod roles;
pub mod server;
pub mod startup;
pub mod upstreams;
pub mod websocket;
pub mod wire;

pub use config::Settings;
pub use startup::Application;
