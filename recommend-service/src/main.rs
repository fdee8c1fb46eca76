use clap::{Parser, Subcommand};
use recommend_service::cli::{eval, generate, import};
use recommend_service::{Application, Settings};

/// Waypoint's trips catalog, ratings and recommendations. Without a command it serves
/// HTTP; the commands are for operators and benchmarks.
#[derive(Parser)]
#[command(name = "recommend-service", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Import ratings in bulk (MovieLens or user,item,rating CSV).
    Import(import::ImportArgs),
    /// Evaluate every strategy on a train/test split.
    Eval(eval::EvalArgs),
    /// Generate synthetic ratings in MovieLens format.
    Gen(generate::GenArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            shared::telemetry::init("recommend-service");
            let app = Application::build(Settings::from_env()?).await?;
            shared::server::stop_on_signal(app.stopper());
            app.run_until_stopped().await?;
        }
        Command::Import(args) => import::run(args, Settings::from_env()?).await?,
        Command::Eval(args) => tokio::task::block_in_place(|| eval::run(args))?,
        Command::Gen(args) => generate::run(args)?,
    }
    Ok(())
}
