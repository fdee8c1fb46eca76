//! `cargo xtask e2e`: the web UI's end-to-end tests (`web/tests/`, node's test runner) in a
//! real browser, Debian's chromium driven by playwright-core, against the whole stack
//! started on a free port with a throwaway data directory. Screenshots land in
//! `web/test-results/`; the servers' logs are kept when a test fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::install::{self, Tool};
use crate::procs::{Procs, free_port, run as exec};
use crate::stack::{self, Options};
use crate::{Result, web};

const CHROMIUM: Tool = Tool {
    program: "chromium",
    package: "chromium",
};

/// `args` go to `node --test` (e.g. `--test-name-pattern=chat`).
pub fn run(root: &Path, args: &[String]) -> Result {
    install::ensure(&[CHROMIUM], |t| install::on_path(t.program))?;
    let bin = stack::build(root)?;
    web::build(root)?;

    let data = temp_dir()?;
    let logs = data.join("logs");
    let options = Options {
        data: data.clone(),
        http_port: free_port()?,
        // Every browser in the tests signs in from 127.0.0.1: one address, many users.
        gateway_env: vec![
            ("RATE_LIMIT_LOGIN".into(), "600/min".into()),
            ("RATE_LIMIT_ANON".into(), "6000/min".into()),
        ],
    };
    eprintln!("xtask: starting the stack (logs in {})", logs.display());
    let stack = stack::start(root, &bin, &options, Procs::logging_to(&logs)?)?;
    let url = format!("http://127.0.0.1:{}", stack.http_port);
    eprintln!("xtask: running the browser tests against {url}");

    let mut node = Command::new("node");
    node.current_dir(root.join("web"))
        .args(["--test", "--test-concurrency=1"])
        .args(args)
        .arg("tests/")
        .env("WAYPOINT_URL", &url)
        .env("WAYPOINT_ADMIN_ACCOUNT", &stack.admin.0)
        .env("WAYPOINT_ADMIN_PASSWORD", &stack.admin.1)
        .env("CHROMIUM", chromium())
        .env("WAYPOINT_ARTIFACTS", root.join("web/test-results"));
    let result = exec(node);
    drop(stack);
    match result {
        Ok(()) => {
            let _ = std::fs::remove_dir_all(&data);
            Ok(())
        }
        Err(err) => Err(format!(
            "{err}\nthe servers' logs are in {}",
            logs.display()
        )),
    }
}

fn chromium() -> PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| "chromium".into())
}

/// A fresh directory under the system's temp dir.
fn temp_dir() -> Result<PathBuf> {
    let out = Command::new("mktemp")
        .args(["-d", "-t", "waypoint-e2e.XXXXXX"])
        .output()
        .map_err(|e| format!("mktemp: {e}"))?;
    if !out.status.success() {
        return Err("mktemp -d failed".into());
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}
