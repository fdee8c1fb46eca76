//! `cargo xtask up` runs Waypoint locally; `cargo xtask test` runs everything CI runs;
//! `cargo xtask e2e` runs the web UI's browser tests; `cargo xtask fuzz` fuzzes the API.

mod e2e;
#[cfg(test)]
#[path = "../tests/support/clone.rs"]
mod fake_clone;
mod fuzz;
mod install;
mod postgres;
mod procs;
mod prometheus;
mod rolling;
mod seed_trips;
mod stack;
mod test;
mod up;
mod web;
mod workspace;

use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "\
usage:
  cargo xtask up                 build and run Waypoint on http://127.0.0.1:8080 (Ctrl-C stops it)
  cargo xtask test [options]     fmt, clippy, the tests on SQLite and on PostgreSQL, the fuzzer,
                                 then e2e
      --sqlite-only              skip the PostgreSQL run
      --no-lint                  skip fmt and clippy
      --no-fuzz                  skip the fuzzer
      --no-e2e                   skip the browser tests
      -p <package>               test only this package (repeatable)
      -- <args>                  passed to `cargo test` (e.g. a test name filter)
  cargo xtask e2e [node args]    the web UI's tests in chromium against a throwaway stack
                                 (e.g. --test-name-pattern=chat)
  cargo xtask fuzz [options]     schemathesis against /v1/openapi.json on a throwaway stack,
                                 as a traveller and as the admin
      --examples N               test cases per operation (default 50; `test` runs 5)
      --seed N                   reproduce a run (`test` always uses seed 13)
      -- <args>                  passed to `schemathesis run`
  cargo xtask rolling-restart    the stack with two replicas of everything under a mixed load
                                 through nginx, every gateway and service replica restarted in
                                 turn; prints what each restart cost (bench/rolling-restart)
  cargo xtask where              print the clone's root and data directory (both found from
                                 the current directory)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command: fn(&Path, &[String]) -> Result = match args.first().map(String::as_str) {
        Some("up") => up::run,
        Some("test") => test::run,
        Some("e2e") => e2e::run,
        Some("fuzz") => fuzz::run,
        Some("rolling-restart") => rolling::run,
        Some("where") => print_where,
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match workspace::current_root().and_then(|root| command(&root, &args[1..])) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask where`: the root and data directory this clone's commands use.
fn print_where(root: &Path, args: &[String]) -> Result {
    if let Some(arg) = args.first() {
        return Err(format!(
            "`cargo xtask where` takes no arguments (got {arg})"
        ));
    }
    println!(
        "root {}\ndata {}",
        root.display(),
        workspace::data_dir(root).display()
    );
    Ok(())
}

/// A heading in the output of a long run.
fn step(what: &str) {
    eprintln!("\n==> {what}");
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

type Result<T = ()> = std::result::Result<T, String>;
