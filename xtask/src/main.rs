//! `cargo xtask up` runs Waypoint locally; `cargo xtask test` runs everything CI runs;
//! `cargo xtask e2e` runs the web UI's browser tests.

mod e2e;
mod install;
mod postgres;
mod procs;
mod seed_trips;
mod stack;
mod test;
mod up;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage:
  cargo xtask up                 build and run Waypoint on http://127.0.0.1:8080 (Ctrl-C stops it)
  cargo xtask test [options]     fmt, clippy, the tests on SQLite and on PostgreSQL, then e2e
      --sqlite-only              skip the PostgreSQL run
      --no-lint                  skip fmt and clippy
      --no-e2e                   skip the browser tests
      -p <package>               test only this package (repeatable)
      -- <args>                  passed to `cargo test` (e.g. a test name filter)
  cargo xtask e2e [node args]    the web UI's tests in chromium against a throwaway stack
                                 (e.g. --test-name-pattern=chat)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("up") => up::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
        Some("e2e") => e2e::run(&args[1..]),
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask's manifest sits one level below it).
fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

type Result<T = ()> = std::result::Result<T, String>;
