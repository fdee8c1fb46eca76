//! `chat-load`: a load client for chat-service, run by `bench/chat`.
//!
//! It plays the rest of the system for running chat-service replicas: a fake expert
//! directory (rbac-service's role holders, auth-service's names), sessions written into
//! Redis the way auth-service writes them, and requests sent with the gateway's headers.
//! Then it opens one socket per user — travellers on the first replica, their experts on
//! the second, so every message crosses replicas — and has every socket send at a fixed
//! rate. Each message carries its send time; the peer's socket measures the delivery
//! latency. After a warm-up it measures for the given duration and prints connections
//! held, messages per second delivered, p50/p99 latency and each replica's RSS.

mod directory;
mod load;
mod options;
mod stats;

use std::time::Duration;

use options::Options;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::from_args(std::env::args().skip(1))?;
    if let Some(port) = options.directory_only {
        directory::serve(port, options.pairs(), &options.token).await?;
        return Ok(());
    }
    let report = load::run(&options).await?;
    report.print(&options);
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}
