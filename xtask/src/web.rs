//! The web UI in `web/`: npm installs its locked dependencies, Vite builds it into
//! `web/dist`, and nginx serves that directory. Also the npm assets of the `/docs` page.

use std::path::Path;
use std::process::Command;

use crate::Result;
use crate::install;
use crate::procs::run as exec;

/// `npm ci` when `web/node_modules` is missing or older than the lock file, then
/// `npm run build`.
pub fn build(root: &Path) -> Result {
    let web = root.join("web");
    if !web.join("package.json").is_file() {
        return Err("there is no web/package.json".into());
    }
    if !install::on_path("npm") {
        return Err("npm not found: install Node.js (20.19 or later) and npm".into());
    }
    check_node()?;
    if stale(
        &web.join("node_modules/.package-lock.json"),
        &web.join("package-lock.json"),
    ) {
        eprintln!("xtask: installing the web UI's npm packages");
        exec(npm_ci(&web))?;
    }
    eprintln!("xtask: building the web UI");
    exec(npm(&web, &["run", "build", "--silent"]))
}

/// The API docs page's assets (Swagger UI) come from npm too; without npm the page lacks
/// them, and nothing else.
pub fn install_docs_assets(root: &Path) {
    if root.join("docs/node_modules/swagger-ui-dist").is_dir() {
        return;
    }
    if !install::on_path("npm") {
        eprintln!("xtask: npm not found; /docs will lack its assets (install Node.js and npm)");
        return;
    }
    if let Err(err) = exec(npm_ci(&root.join("docs"))) {
        eprintln!("xtask: {err}; /docs will lack its assets");
    }
}

/// The locked dependencies, installed without running their scripts.
fn npm_ci(dir: &Path) -> Command {
    npm(dir, &["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
}

/// Vite needs Node.js 20.19 or later; an older one fails with obscure errors.
fn check_node() -> Result {
    let out = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("node: {e}"))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let mut parts = version
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) >= (20, 19) {
        Ok(())
    } else {
        Err(format!(
            "the web UI needs Node.js 20.19 or later (found {version:?})"
        ))
    }
}

fn npm(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("npm");
    command
        .current_dir(dir)
        .args(args)
        .args(["--loglevel=error"]);
    command
}

/// Whether `made` is missing or older than `from`.
fn stale(made: &Path, from: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(made), modified(from)) {
        (Some(made), Some(from)) => made < from,
        _ => true,
    }
}
