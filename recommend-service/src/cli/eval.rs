//! `recommend-service eval`: RMSE, MAE, precision@10, recall@10, fit and top-N time of
//! every strategy on a train/test split.

use std::path::PathBuf;

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::file;
use crate::recommend::auto::{self, Choice};
use crate::recommend::evaluate::{Figures, evaluate, split};
use crate::recommend::{Rating, Strategy};

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
    /// Only these strategies (repeatable; `auto` chooses by evidence); default all and auto.
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
            (oldest_first(train.to_vec(), &train_rows), test.to_vec())
        }
        None => {
            anyhow::ensure!(
                args.split > 0.0 && args.split < 1.0,
                "--split must be between 0 and 1"
            );
            let rows = file::read(&args.ratings)?;
            let all = file::to_ratings(&rows);
            let (train, test) = split(&all, args.split, args.seed);
            (oldest_first(train, &rows), test)
        }
    };
    let names: Vec<String> = if args.strategies.is_empty() {
        let mut all: Vec<String> = Strategy::all().iter().map(Strategy::name).collect();
        all.push("auto".into());
        all
    } else {
        args.strategies.clone()
    };
    let mut results: Vec<(String, Figures, Option<Choice>)> = Vec::new();
    for name in names {
        if name == "auto" {
            let started = Instant::now();
            let choice = auto::choose(&train);
            let choosing = started.elapsed().as_secs_f64();
            let mut figures = evaluate(choice.winner(), &train, &test);
            figures.fit_seconds += choosing;
            if choice.predictor() != choice.winner() {
                // Served beside the ranking model: its fit counts, its lists do not.
                let predictor = evaluate(choice.predictor(), &train, &test);
                (figures.rmse, figures.mae) = (predictor.rmse, predictor.mae);
                figures.fit_seconds += predictor.fit_seconds;
            }
            results.push((name, figures, Some(choice)));
        } else {
            let strategy: Strategy = name.parse().map_err(anyhow::Error::msg)?;
            results.push((name, evaluate(strategy, &train, &test), None));
        }
    }
    if args.json {
        let object: Map<String, Value> = results
            .into_iter()
            .map(|(name, figures, choice)| {
                let mut value = serde_json::to_value(figures)?;
                if let (Some(choice), Some(fields)) = (choice, value.as_object_mut()) {
                    fields.insert("chosen".into(), choice.winner().name().into());
                    fields.insert("margin".into(), choice.margin().into());
                    fields.insert("held_out_precision_at_10".into(), by_name(&choice.ranked));
                    fields.insert("predictor".into(), choice.predictor().name().into());
                    fields.insert("predictor_margin".into(), choice.predictor_margin().into());
                    fields.insert("held_out_rmse".into(), by_name(&choice.predicted));
                }
                Ok((name, value))
            })
            .collect::<anyhow::Result<_>>()?;
        println!("{}", Value::Object(object));
    } else {
        println!("{} training and {} test ratings", train.len(), test.len());
        println!(
            "{:<16} {:>7} {:>7} {:>9} {:>9} {:>8} {:>9}",
            "strategy", "RMSE", "MAE", "prec@10", "recall@10", "fit s", "top-10 s"
        );
        let show = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.4}"));
        let mut chose = None;
        let mut learned = Vec::new();
        for (name, f, choice) in results {
            let name = match choice {
                Some(choice) => {
                    let label = format!("auto→{}", choice.winner().name());
                    chose = Some(choice);
                    label
                }
                None => name,
            };
            learned.push((name.clone(), f.beta, f.mix_share));
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
        for (name, beta, share) in &learned {
            if let Some(beta) = beta {
                println!("{name}: β {beta:.2}, chosen on the held-out slice");
            }
            if let Some(share) = share {
                println!("{name}: EASE's share {share}, chosen on the held-out slice");
            }
        }
        if let Some(choice) = chose {
            println!(
                "auto: precision@10 on each user's most recent {:.0} % of training: {} (margin {:.4})",
                auto::HOLD_OUT * 100.0,
                listed(&choice.ranked),
                choice.margin()
            );
            println!(
                "auto: predictions by {}; RMSE on the same slice: {} (margin {:.4})",
                choice.predictor().name(),
                listed(&choice.predicted),
                choice.predictor_margin()
            );
        }
    }
    Ok(())
}

/// Scores by strategy name, as a JSON object.
fn by_name(scores: &[(Strategy, f64)]) -> Value {
    let object: Map<String, Value> = scores.iter().map(|(s, v)| (s.name(), json!(v))).collect();
    object.into()
}

/// Scores as `name 0.1234, …`, in their order.
fn listed(scores: &[(Strategy, f64)]) -> String {
    let parts: Vec<String> = scores
        .iter()
        .map(|(s, v)| format!("{} {v:.4}", s.name()))
        .collect();
    parts.join(", ")
}

/// `train` sorted oldest first by the timestamps of `rows` (the file's lines, from which
/// the ratings were made); without timestamps the file's order stands.
fn oldest_first(mut train: Vec<Rating>, rows: &[file::Row]) -> Vec<Rating> {
    let ratings = file::to_ratings(rows);
    let at: HashMap<(i64, i64), i64> = ratings
        .iter()
        .zip(rows)
        .filter_map(|(r, row)| row.at.map(|at| ((r.user, r.item), at)))
        .collect();
    train.sort_by_key(|r| at.get(&(r.user, r.item)).copied().unwrap_or(i64::MIN));
    train
}
