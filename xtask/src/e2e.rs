//! `cargo xtask e2e`: the web UI's end-to-end tests (`web/tests/`, node's test runner) in a
//! real browser, Debian's chromium driven by playwright-core, against the whole stack
//! started on a free port with a throwaway data directory. Screenshots land in
//! `web/test-results/`; the servers' logs are kept when a test fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::install::{self, Tool};
use crate::procs::run as exec;
use crate::stack;
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

    // Every browser in the tests signs in from 127.0.0.1: one address, many users.
    let gateway_env = vec![
        ("RATE_LIMIT_LOGIN".into(), "600/min".into()),
        ("RATE_LIMIT_ANON".into(), "6000/min".into()),
    ];
    let throwaway = stack::Throwaway::start(root, &bin, gateway_env)?;
    let stack = &throwaway.stack;
    let url = throwaway.url();
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
    throwaway.finish(exec(node))
}

fn chromium() -> PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| "chromium".into())
}
