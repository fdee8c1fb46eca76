//! `cargo xtask test`: formatting, lints, then the whole test suite on SQLite and again on
//! a throwaway PostgreSQL cluster, then the fuzzer (`cargo xtask fuzz`, bounded) and the
//! web UI's browser tests. This is what CI runs.

use std::path::Path;
use std::process::Command;

use crate::fuzz::{self, Fuzz};
use crate::install::{self, NGINX, PROMETHEUS, REDIS};
use crate::postgres::Cluster;
use crate::procs::run as exec;
use crate::{Result, cargo, step};

pub fn run(root: &Path, args: &[String]) -> Result {
    let (options, test_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let mut sqlite_only = false;
    let mut lint = true;
    let mut e2e = true;
    let mut fuzz = true;
    let mut scope = vec!["--workspace".to_owned()];
    let mut options = options.iter();
    while let Some(option) = options.next() {
        match option.as_str() {
            "--sqlite-only" => sqlite_only = true,
            "--no-lint" => lint = false,
            "--no-e2e" => e2e = false,
            "--no-fuzz" => fuzz = false,
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
        exec(cargo_in(root, &["fmt", "--all", "--", "--check"]))?;
        step("cargo clippy -D warnings");
        exec(cargo_in(
            root,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        ))?;
    }
    install::ensure(&[REDIS, NGINX, PROMETHEUS], |t| install::on_path(t.program))?;
    crate::web::install_docs_assets(root);

    step("promtool check rules");
    let mut promtool = Command::new("promtool");
    promtool
        .args(["check", "rules"])
        .arg(root.join(crate::prometheus::RULES));
    exec(promtool)?;

    step("tests on SQLite");
    let mut sqlite = cargo_in(root, &["test"]);
    sqlite
        .args(&scope)
        .args(test_args)
        .env_remove("TEST_DATABASE_URL");
    exec(sqlite)?;

    if !sqlite_only {
        step("tests on PostgreSQL");
        let cluster = Cluster::start()?;
        let mut postgres = cargo_in(root, &["test"]);
        postgres
            .args(&scope)
            .args(test_args)
            .env("TEST_DATABASE_URL", &cluster.url);
        exec(postgres)?;
    }
    // The fuzzer and the browser tests cover the whole product, so a narrowed run leaves
    // them out.
    let whole = scope == ["--workspace"] && test_args.is_empty();
    if fuzz && whole {
        step("fuzzing the API (cargo xtask fuzz)");
        fuzz::fuzz_stack(
            root,
            &Fuzz {
                examples: fuzz::CI_EXAMPLES,
                seed: Some(fuzz::CI_SEED),
                extra: Vec::new(),
            },
        )?;
    }
    if e2e && whole && root.join("web").is_dir() {
        step("browser tests (cargo xtask e2e)");
        crate::e2e::run(root, &[])?;
    }
    step("all checks passed");
    Ok(())
}

fn cargo_in(root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(cargo());
    command.current_dir(root).args(args);
    command
}
