//! chat-service: conversations between travellers and travel experts, their messages and
//! read markers, and the live chat socket, fanned out across replicas through Redis.

pub mod chat;
pub mod config;
pub mod context;
pub mod directory;
pub mod domain;
pub mod metrics;
pub mod models;
pub mod openapi;
pub mod presence;
pub mod routes;
pub mod schema;
pub mod sessions;
pub mod startup;
pub mod tickets;
pub mod views;
pub mod writer;
pub mod ws;

pub use config::Settings;
pub use startup::Application;
