//! `cargo xtask fuzz`: schemathesis, generating requests from the merged OpenAPI document
//! (`GET /v1/openapi.json` through nginx and the gateway), against the whole stack on a
//! free port with a throwaway data directory. It runs twice, with a traveller's token and
//! with a super_admin's, and fails on a 5xx, on a response that the document does not
//! describe (status code, content type, body schema), and on any 2xx that an operation
//! gives a caller whose roles the live policy grants nothing there (`fuzz/hooks.py`).
//!
//! schemathesis comes from PyPI, pinned, into a virtualenv kept under the target directory
//! and reused while the pinned version stays the same.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::install::{self, Tool};
use crate::procs::run as exec;
use crate::stack::{self, Throwaway};
use crate::{Result, step};

const SCHEMATHESIS: &str = "4.32.5";
/// Test cases per operation and role in `cargo xtask test`: enough to find the plain 500s,
/// few enough that the step takes about two minutes on two cores.
pub const CI_EXAMPLES: u32 = 5;
/// `cargo xtask fuzz` without `--examples`.
const DEFAULT_EXAMPLES: u32 = 50;
/// `cargo xtask test` fuzzes with the same seed every time, so a failure it reports is
/// there again on the next run; `cargo xtask fuzz` draws a new one unless given `--seed`.
pub const CI_SEED: u64 = 13;

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,admin_operations_refuse_the_caller";
/// Never fuzzed: `/internal/*` (services' own calls, which the gateway never routes) and
/// the sign-outs, which would end the very session the run fuzzes with.
const EXCLUDED_PATHS: &str = "^/internal/|^/v1/auth/logout";

const VENV: Tool = Tool {
    program: "python3",
    package: "python3-venv",
};

pub struct Fuzz {
    pub examples: u32,
    pub seed: Option<u64>,
    /// More arguments for `schemathesis run` (e.g. `--include-path-regex ^/v1/trips`).
    pub extra: Vec<String>,
}

/// `cargo xtask fuzz [--examples N] [--seed N] [-- schemathesis run options]`
pub fn run(root: &Path, args: &[String]) -> Result {
    let (options, extra) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let mut fuzz = Fuzz {
        examples: DEFAULT_EXAMPLES,
        seed: None,
        extra: extra.to_vec(),
    };
    let mut options = options.iter();
    while let Some(option) = options.next() {
        match option.as_str() {
            "--examples" => fuzz.examples = number(option, options.next())?,
            "--seed" => fuzz.seed = Some(number(option, options.next())?),
            unknown => return Err(format!("unknown option {unknown}")),
        }
    }
    if fuzz.examples == 0 {
        return Err("--examples must be at least 1".into());
    }
    fuzz_stack(root, &fuzz)
}

fn number<T: std::str::FromStr>(option: &str, value: Option<&String>) -> Result<T> {
    let value = value.ok_or(format!("{option} needs a number"))?;
    value
        .parse()
        .map_err(|_| format!("{option} {value}: not a number"))
}

/// Builds, starts a throwaway stack, fuzzes it as a traveller and then as the admin.
pub fn fuzz_stack(root: &Path, fuzz: &Fuzz) -> Result {
    let schemathesis = install_schemathesis(root)?;
    let bin = stack::build(root)?;
    // The fuzzer sends hundreds of requests a second from one address and one user.
    let unthrottled = [
        "RATE_LIMIT_ANON",
        "RATE_LIMIT_USER",
        "RATE_LIMIT_LOGIN",
        "RATE_LIMIT_WRITE",
    ]
    .into_iter()
    .map(|name| (name.to_owned(), "off".to_owned()))
    .collect();
    let throwaway = Throwaway::start(root, &bin, unthrottled)?;
    let outcome = fuzz_as_each_role(root, &schemathesis, &throwaway, fuzz);
    throwaway.finish(outcome)
}

fn fuzz_as_each_role(root: &Path, schemathesis: &Path, stack: &Throwaway, fuzz: &Fuzz) -> Result {
    let port = stack.stack.http_port;
    let (admin, demo) = (&stack.stack.admin, &stack.stack.demo);
    let admin_token = stack::login(port, &admin.0, &admin.1)?;
    let traveller_token = stack::login(port, &demo.0, &demo.1)?;
    let url = stack.url();
    // Failures known and listed there (each with a note) are reported but do not fail.
    let baseline = Some(root.join("fuzz/baseline.json")).filter(|b| b.is_file());
    let mut failed = Vec::new();
    // The traveller first: the admin's run may change the policy the traveller's rests on.
    for (who, token) in [("traveller", &traveller_token), ("admin", &admin_token)] {
        step(&format!(
            "fuzzing {url}/v1/openapi.json as the {who} ({} examples per operation)",
            fuzz.examples
        ));
        let reports = stack.logs.join(format!("fuzz-{who}"));
        let mut command = Command::new(schemathesis);
        command
            .current_dir(&stack.data)
            .arg("run")
            .arg(format!("{url}/v1/openapi.json"))
            .args(["--url", &url, "--checks", CHECKS])
            .args(["--exclude-path-regex", EXCLUDED_PATHS])
            .args(["--max-examples", &fuzz.examples.to_string()])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(["--generation-database", "none", "--no-color"])
            .args(["--report", "junit,ndjson", "--report-dir"])
            .arg(&reports)
            .args(fuzz.seed.map(|seed| format!("--seed={seed}")))
            .args(
                baseline
                    .iter()
                    .flat_map(|b| [OsStr::new("--baseline"), b.as_os_str()]),
            )
            .args(&fuzz.extra)
            .env("SCHEMATHESIS_HOOKS", root.join("fuzz/hooks.py"))
            .env("WAYPOINT_URL", &url)
            .env("WAYPOINT_ADMIN_TOKEN", &admin_token)
            .env("WAYPOINT_FUZZ_TOKEN", token)
            .env("WAYPOINT_FUZZ_AS", who);
        // Not `exec`: its message would spell out the command, tokens and all.
        let status = command
            .status()
            .map_err(|e| format!("{}: {e}", schemathesis.display()))?;
        if !status.success() {
            eprintln!(
                "xtask: schemathesis as the {who}: {status}; reports in {}",
                reports.display()
            );
            failed.push(who);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the fuzzer found failures as the {} (see above)",
            failed.join(" and the ")
        ))
    }
}

/// `<target>/xtask/schemathesis-<version>/bin/schemathesis`, installed from PyPI into its
/// own virtualenv the first time.
fn install_schemathesis(root: &Path) -> Result<PathBuf> {
    let venv = stack::target_dir(root)
        .join("xtask")
        .join(format!("schemathesis-{SCHEMATHESIS}"));
    let program = venv.join("bin/schemathesis");
    let installed = venv.join(".installed");
    if installed.is_file() && program.is_file() {
        return Ok(program);
    }
    install::ensure(&[VENV], |_| has_venv())?;
    eprintln!(
        "xtask: installing schemathesis {SCHEMATHESIS} into {}",
        venv.display()
    );
    let _ = std::fs::remove_dir_all(&venv);
    exec({
        let mut python = Command::new("python3");
        python.args(["-m", "venv"]).arg(&venv);
        python
    })?;
    exec({
        let mut pip = Command::new(venv.join("bin/pip"));
        pip.args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("schemathesis=={SCHEMATHESIS}"));
        pip
    })?;
    std::fs::write(&installed, SCHEMATHESIS)
        .map_err(|e| format!("writing {}: {e}", installed.display()))?;
    Ok(program)
}

/// Whether `python3 -m venv` works (Debian puts venv and ensurepip in python3-venv).
fn has_venv() -> bool {
    Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .output()
        .is_ok_and(|out| out.status.success())
}
