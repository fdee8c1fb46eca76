//! `cargo xtask rolling-restart` (what `bench/rolling-restart` runs): the whole stack as
//! real processes with two replicas of everything (see `stack`) on free ports and a
//! throwaway data directory, `rolling-load` (bench/src/bin) sending a steady mixed load
//! through nginx, and every gateway and service replica restarted one at a time as a
//! deploy would: SIGTERM, wait for the exit, start it again, wait until `/readyz` answers,
//! next. The load prints what each restart cost; any failure fails the command.
//!
//! Release build unless `BENCH_PROFILE` says otherwise (`BENCH_PROFILE=dev` for a quick
//! run), or none with `BENCH_BIN=<dir>` (binaries built before, e.g. another version).
//! The binaries run from a copy in the data directory, so another build in the same
//! target directory cannot replace them mid-run.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::Result;
use crate::procs::{Procs, free_port, wait_ready};
use crate::stack::{self, Options};

/// The processes restarted, in this order: the gateways first (every request crosses
/// them), then each service's replicas.
const RESTARTS: [&str; 12] = [
    "gateway-1",
    "gateway-2",
    "auth-1",
    "auth-2",
    "rbac-1",
    "rbac-2",
    "recommend-1",
    "recommend-2",
    "payment-1",
    "payment-2",
    "chat-1",
    "chat-2",
];
/// The load alone before the first restart and after the last.
const STEADY: Duration = Duration::from_secs(3);
/// Between one process being ready and the next restart, as a deploy tool would pause.
const BETWEEN: Duration = Duration::from_secs(1);

pub fn run(root: &Path, args: &[String]) -> Result {
    if let Some(arg) = args.first() {
        return Err(format!(
            "`cargo xtask rolling-restart` takes no arguments (got {arg})"
        ));
    }
    let profile = std::env::var("BENCH_PROFILE").unwrap_or_else(|_| "release".into());
    let built = match std::env::var_os("BENCH_BIN") {
        Some(dir) => PathBuf::from(dir),
        None => stack::build_with(root, &profile, &["rolling-load"])?,
    };
    let data = stack::temp_dir()?;
    let bin = data.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("creating {}: {e}", bin.display()))?;
    for name in stack::SERVICES.iter().chain(&["rolling-load"]) {
        std::fs::copy(built.join(name), bin.join(name))
            .map_err(|e| format!("copying {name}: {e}"))?;
    }

    let logs = data.join("logs");
    eprintln!(
        "xtask: starting the stack ({profile}; logs in {})",
        logs.display()
    );
    let options = Options {
        data: data.clone(),
        http_port: free_port()?,
        // One client address and two users make the whole load: no limit is measured here.
        gateway_env: ["ANON", "USER", "LOGIN", "WRITE"]
            .iter()
            .map(|kind| (format!("RATE_LIMIT_{kind}"), "off".to_owned()))
            .collect(),
        service_env: Vec::new(),
        replicas: 2,
    };
    let outcome = stack::start(root, &bin, &options, Procs::logging_to(&logs)?)
        .and_then(|mut stack| restart_under_load(&bin, &mut stack));
    match outcome {
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

fn restart_under_load(bin: &Path, stack: &mut stack::Stack) -> Result {
    let mut load = Command::new(bin.join("rolling-load"))
        .env(
            "ROLLING_URL",
            format!("http://127.0.0.1:{}", stack.http_port),
        )
        .env("ROLLING_ADMIN_ACCOUNT", &stack.admin.0)
        .env("ROLLING_ADMIN_PASSWORD", &stack.admin.1)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting rolling-load: {e}"))?;
    let mut events = load.stdin.take().ok_or("no stdin")?;
    let (running, started) = mpsc::channel();
    let out = BufReader::new(load.stdout.take().ok_or("no stdout")?);
    std::thread::spawn(move || {
        for line in out.lines().map_while(std::result::Result::ok) {
            if line == "load running" {
                let _ = running.send(());
            }
            println!("{line}");
        }
    });
    if started.recv_timeout(Duration::from_secs(120)).is_err() {
        let _ = load.kill();
        return Err("the load did not start".into());
    }

    let mut send = |event: String| {
        writeln!(events, "{event}").map_err(|e| format!("telling the load {event}: {e}"))
    };
    std::thread::sleep(STEADY);
    for name in RESTARTS {
        send(format!("phase {name}"))?;
        let port: u16 = stack
            .procs
            .env_of(name, "BIND_ADDR")
            .and_then(|addr| addr.rsplit(':').next()?.parse().ok())
            .ok_or_else(|| format!("{name} has no BIND_ADDR"))?;
        let stopping = Instant::now();
        let exited = stack.procs.restart(name)?;
        wait_ready(name, port, "/readyz", &mut stack.procs)?;
        let took = stopping.elapsed();
        eprintln!(
            "xtask: {name} exited {:.1} s after SIGTERM, ready again {:.1} s after it",
            exited.as_secs_f64(),
            took.as_secs_f64()
        );
        send(format!("ready {:.1}", took.as_secs_f64()))?;
        std::thread::sleep(BETWEEN);
    }
    send("phase (after)".into())?;
    std::thread::sleep(STEADY);
    send("stop".into())?;
    // The load reads until `stop` or the end of its input.
    drop(events);
    let status = load.wait().map_err(|e| format!("rolling-load: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("requests failed or chat messages were lost during the restarts (table above)".into())
    }
}
