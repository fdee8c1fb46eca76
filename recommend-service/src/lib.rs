//! recommend-service: the trips catalog behind a consistent Redis cache, ratings and
//! implicit signals, and collaborative-filtering recommendations served from memory.

pub mod cache;
pub mod cli;
pub mod config;
pub mod context;
pub mod db;
pub mod domain;
pub mod engine;
pub mod metrics;
pub mod models;
pub mod openapi;
pub mod ranking;
pub mod recommend;
pub mod routes;
pub mod schedule;
pub mod schema;
pub mod signals;
pub mod startup;

pub use config::Settings;
pub use startup::Application;
