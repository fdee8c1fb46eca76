//! payment-service: orders of trips and their payment with Alipay (page/wap pay, signed
//! asynchronous notifications, trade query, refund, close), with the purchase reported to
//! recommend-service.
//!
//! [`alipay`] is a self-contained Alipay client; [`payments`] applies Alipay's verified
//! word to orders exactly once; [`closing`] and [`refunding`] drive trades at Alipay;
//! [`jobs`] closes unpaid orders, reconciles lost notifications and delivers signals.

pub mod alipay;
pub mod closing;
pub mod config;
pub mod context;
pub mod domain;
pub mod jobs;
pub mod models;
pub mod openapi;
pub mod payments;
pub mod recommend;
pub mod refunding;
pub mod routes;
pub mod schema;
pub mod startup;

pub use config::Settings;
pub use startup::Application;
