use gateway::{Application, Settings};

/// A request through the gateway allocates and frees some fifty small blocks; mimalloc's
/// thread-local free lists make that about half of what glibc's malloc costs
/// (`bench/gateway profile`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init("gateway");
    let settings = Settings::from_env()?;
    let app = Application::build(settings).await?;
    shared::server::stop_on_signal(app.stopper());
    app.run_until_stopped().await?;
    Ok(())
}
