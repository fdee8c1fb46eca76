//! `recommend-service eval`: RMSE, MAE, precision@10, recall@10, fit and top-N time of
//! every strategy on a train/test split.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::file;
use crate::recommend::Strategy;
use crate::recommend::evaluate::{Figures, evaluate, split};

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Training ratings (or all ratings, with --split).
    #[arg(long)]
    pub ratings: PathBuf,
    /// Test ratings; without it, --split divides --ratings.
    #[arg(long, conflicts_with = "split")]
    pub test: Option<PathBuf>,
    /// Fraction of --ratings used for training when there is no --test.
    #[arg(long, default_value_t = 0.8)]
    pub split: f64,
    /// Seed of the random split.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Only these strategies (repeatable); default all.
    #[arg(long = "strategy")]
    pub strategies: Vec<String>,
    /// One JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let (train, test) = match &args.test {
        Some(test) => {
            // Name → id numbering must agree between the two files: number them together.
            let train_rows = file::read(&args.ratings)?;
            let test_rows = file::read(test)?;
            let all = file::to_ratings(&[train_rows.clone(), test_rows].concat());
            let (train, test) = all.split_at(train_rows.len());
            (train.to_vec(), test.to_vec())
        }
        None => {
            anyhow::ensure!(
                args.split > 0.0 && args.split < 1.0,
                "--split must be between 0 and 1"
            );
            let all = file::to_ratings(&file::read(&args.ratings)?);
            split(&all, args.split, args.seed)
        }
    };
    let strategies: Vec<Strategy> = if args.strategies.is_empty() {
        Strategy::all()
    } else {
        args.strategies
            .iter()
            .map(|s| s.parse().map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<_>>()?
    };
    let results: Vec<(String, Figures)> = strategies
        .iter()
        .map(|s| (s.name(), evaluate(*s, &train, &test)))
        .collect();
    if args.json {
        let object: Map<String, Value> = results
            .into_iter()
            .map(|(name, figures)| Ok((name, serde_json::to_value(figures)?)))
            .collect::<anyhow::Result<_>>()?;
        println!("{}", Value::Object(object));
    } else {
        println!("{} training and {} test ratings", train.len(), test.len());
        println!(
            "{:<16} {:>7} {:>7} {:>9} {:>9} {:>8} {:>9}",
            "strategy", "RMSE", "MAE", "prec@10", "recall@10", "fit s", "top-10 s"
        );
        let show = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.4}"));
        for (name, f) in results {
            println!(
                "{:<16} {:>7} {:>7} {:>9} {:>9} {:>8.3} {:>9.3}",
                name,
                show(f.rmse),
                show(f.mae),
                show(f.precision_at_10),
                show(f.recall_at_10),
                f.fit_seconds,
                f.topn_seconds
            );
        }
    }
    Ok(())
}
