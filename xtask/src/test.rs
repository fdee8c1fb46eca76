//! `cargo xtask test`: formatting, lints, then the whole test suite on SQLite and again on
//! a throwaway PostgreSQL cluster. This is what CI runs.

use std::process::Command;

use crate::install::{self, NGINX, REDIS};
use crate::postgres::Cluster;
use crate::procs::run as exec;
use crate::{Result, cargo, root};

pub fn run(args: &[String]) -> Result {
    let (options, test_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let mut sqlite_only = false;
    let mut lint = true;
    let mut scope = vec!["--workspace".to_owned()];
    let mut options = options.iter();
    while let Some(option) = options.next() {
        match option.as_str() {
            "--sqlite-only" => sqlite_only = true,
            "--no-lint" => lint = false,
            "-p" | "--package" => {
                let package = options.next().ok_or("-p needs a package name")?;
                if scope == ["--workspace"] {
                    scope.clear();
                }
                scope.extend(["-p".to_owned(), package.clone()]);
            }
            unknown => return Err(format!("unknown option {unknown}")),
        }
    }

    if lint {
        step("cargo fmt --check");
        exec(cargo_in_root(&["fmt", "--all", "--", "--check"]))?;
        step("cargo clippy -D warnings");
        exec(cargo_in_root(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))?;
    }
    install::ensure(&[REDIS, NGINX], |t| install::on_path(t.program))?;
    crate::up::install_docs_assets(&root());

    step("tests on SQLite");
    let mut sqlite = cargo_in_root(&["test"]);
    sqlite
        .args(&scope)
        .args(test_args)
        .env_remove("TEST_DATABASE_URL");
    exec(sqlite)?;

    if !sqlite_only {
        step("tests on PostgreSQL");
        let cluster = Cluster::start()?;
        let mut postgres = cargo_in_root(&["test"]);
        postgres
            .args(&scope)
            .args(test_args)
            .env("TEST_DATABASE_URL", &cluster.url);
        exec(postgres)?;
    }
    step("all checks passed");
    Ok(())
}

fn cargo_in_root(args: &[&str]) -> Command {
    let mut command = Command::new(cargo());
    command.current_dir(root()).args(args);
    command
}

fn step(what: &str) {
    eprintln!("\n==> {what}");
}
