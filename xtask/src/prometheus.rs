//! The Prometheus `cargo xtask up` starts: a scrape configuration generated for every
//! process the stack started (each on its own `METRICS_ADDR`), the repository's rules.

use std::path::Path;
use std::process::Command;

use crate::Result;
use crate::install::{self, PROMETHEUS};
use crate::procs::{Procs, free_port, wait_ready};

/// The recording and alerting rules, relative to the workspace.
pub const RULES: &str = "prometheus/rules.yml";

/// The scrape configuration: one job per process, every 5 s.
pub fn config(root: &Path, targets: &[(String, u16)]) -> String {
    let mut yaml = format!(
        "global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\nrule_files:\n  - {}\nscrape_configs:\n",
        root.join(RULES).display()
    );
    for (name, port) in targets {
        yaml.push_str(&format!(
            "  - job_name: {name}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ));
    }
    yaml
}

/// Starts Prometheus on a free loopback port with its data under `data/prometheus`;
/// returns its port.
pub fn start(
    root: &Path,
    data: &Path,
    targets: &[(String, u16)],
    procs: &mut Procs,
) -> Result<u16> {
    install::ensure(&[PROMETHEUS], |t| install::on_path(t.program))?;
    let dir = data.join("prometheus");
    std::fs::create_dir_all(dir.join("tsdb"))
        .map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let file = dir.join("prometheus.yml");
    std::fs::write(&file, config(root, targets))
        .map_err(|e| format!("writing {}: {e}", file.display()))?;
    let port = free_port()?;
    let mut prometheus = Command::new(if install::on_path("prometheus") {
        "prometheus"
    } else {
        "/usr/bin/prometheus"
    });
    prometheus
        .arg(format!("--config.file={}", file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"));
    procs.spawn("prometheus", prometheus)?;
    wait_ready("prometheus", port, "/-/ready", procs)?;
    Ok(port)
}
