use chat_service::{Application, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init("chat-service");
    let settings = Settings::from_env()?;
    let app = Application::build(settings).await?;
    let stopper = app.stopper();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: closing sockets");
        stopper.stop().await;
    });
    app.run_until_stopped().await?;
    Ok(())
}

async fn shutdown_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
