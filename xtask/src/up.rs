//! `cargo xtask up [--replicas N]`: build, then run the whole stack (see `stack`, with N
//! replicas of each service, default 2) in the foreground on http://127.0.0.1:8080 with
//! `./data`; stop everything on Ctrl-C or SIGTERM.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::procs::Procs;
use crate::stack::{self, Options};
use crate::{Result, web, workspace};

pub fn run(root: &Path, args: &[String]) -> Result {
    let replicas = replicas(args)?;
    let http_port: u16 = std::env::var("WAYPOINT_HTTP_PORT")
        .ok()
        .map(|p| {
            p.parse()
                .map_err(|_| format!("WAYPOINT_HTTP_PORT={p} is not a port"))
        })
        .transpose()?
        .unwrap_or(8080);
    let bin = stack::build(root)?;
    if let Err(err) = web::build(root) {
        eprintln!("xtask: {err}; nginx serves a welcome page instead of the web UI");
    }

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| format!("signal handler: {e}"))?;
    let options = Options {
        data: workspace::data_dir(root),
        http_port,
        gateway_env: Vec::new(),
        service_env: Vec::new(),
        replicas,
    };
    let mut stack = stack::start(root, &bin, &options, Procs::default())?;
    let prometheus =
        crate::prometheus::start(root, &options.data, &stack.metrics, &mut stack.procs)?;
    let (demo, admin) = (&stack.demo, &stack.admin);
    let metrics: Vec<String> = stack
        .metrics
        .iter()
        .map(|(name, port)| format!("{name} http://127.0.0.1:{port}/metrics"))
        .collect();
    println!(
        "\n  Waypoint is running at http://127.0.0.1:{http_port}/\n\
         \n  demo traveller   account: {}   password: {}\
         \n  admin            account: {}   password: {}\
         \n  API docs         http://127.0.0.1:{http_port}/docs\
         \n  Payments go to a fake Alipay (its cashier has a Pay button); see README.\
         \n  Prometheus       http://127.0.0.1:{prometheus}/ (scrapes every process below)\
         \n  Metrics          {}\n\
         \n  Data lives in {}. Press Ctrl-C to stop.\n",
        demo.0,
        demo.1,
        admin.0,
        admin.1,
        metrics.join("\n                   "),
        options.data.display(),
    );

    while !stop.load(Ordering::SeqCst) {
        if let Some(name) = stack.procs.exited() {
            stack.procs.stop_all();
            return Err(format!(
                "{name} exited unexpectedly; everything was stopped"
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("\nxtask: stopping");
    stack.procs.stop_all();
    Ok(())
}

/// `--replicas N` (1 to 8), default 2.
fn replicas(args: &[String]) -> Result<usize> {
    match args {
        [] => Ok(2),
        [flag, n] if flag == "--replicas" => match n.parse() {
            Ok(n @ 1..=8) => Ok(n),
            _ => Err(format!("--replicas takes 1 to 8 (got {n})")),
        },
        _ => Err(format!(
            "`cargo xtask up` takes only --replicas N (got {})",
            args.join(" ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::replicas;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn two_replicas_unless_told_otherwise() {
        assert_eq!(replicas(&args("")), Ok(2));
        assert_eq!(replicas(&args("--replicas 1")), Ok(1));
        assert_eq!(replicas(&args("--replicas 3")), Ok(3));
        for bad in [
            "--replicas",
            "--replicas 0",
            "--replicas x",
            "--replicas 9",
            "-r 2",
        ] {
            assert!(replicas(&args(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_replica_list_names_every_port() {
        assert_eq!(
            crate::stack::replica_list(&[8101, 8111]),
            "http://127.0.0.1:8101|http://127.0.0.1:8111"
        );
    }
}
