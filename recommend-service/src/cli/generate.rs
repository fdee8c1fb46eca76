//! `recommend-service gen`: synthetic ratings in MovieLens format.

use std::io::Write;
use std::path::PathBuf;

use crate::recommend::generate::{Spec, generate};

#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// Users (MovieLens-100k: 943; 1M: 6040).
    #[arg(long, default_value_t = 943)]
    pub users: usize,
    /// Items (MovieLens-100k: 1682; 1M: 3700).
    #[arg(long, default_value_t = 1682)]
    pub items: usize,
    /// Ratings, about (MovieLens-100k: 100000).
    #[arg(long, default_value_t = 100_000)]
    pub ratings: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: GenArgs) -> anyhow::Result<()> {
    let data = generate(Spec {
        users: args.users,
        items: args.items,
        ratings: args.ratings,
        seed: args.seed,
    });
    let mut text = String::with_capacity(data.len() * 24);
    for r in &data {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            r.user, r.item, r.stars, r.timestamp
        ));
    }
    match args.out {
        Some(path) => std::fs::write(&path, text)
            .map_err(|err| anyhow::anyhow!("cannot write {}: {err}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    eprintln!(
        "generated {} ratings: {} users × {} items, seed {}",
        data.len(),
        args.users,
        args.items,
        args.seed
    );
    Ok(())
}
