use chat_service::{Application, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init("chat-service");
    let settings = Settings::from_env()?;
    let app = Application::build(settings).await?;
    shared::server::stop_on_signal(app.stopper());
    app.run_until_stopped().await?;
    Ok(())
}
