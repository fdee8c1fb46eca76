//! An open-loop load generator (what wrk2 does, which is not packaged here): GETs `url` at a
//! constant `rate` for `seconds`, each request scheduled at `start + i / rate` whatever the
//! earlier ones did, and its latency measured from that scheduled time, so a stall counts
//! against every request it delayed (no coordinated omission). The first `warmup` seconds
//! are sent but not measured; at most `MAX_IN_FLIGHT` requests are outstanding (a request
//! waiting for a slot is still timed from its schedule).
//!
//! `fixed-rate <url> <rate> <seconds> [warmup] [header: value]…` prints
//! `p50_ms p99_ms measured` and exits non-zero if any answer was not 2xx.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::sync::Semaphore;

const MAX_IN_FLIGHT: usize = 512;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, rate, seconds, rest @ ..] = args.as_slice() else {
        bail!("usage: fixed-rate <url> <rate> <seconds> [warmup] [header: value]…");
    };
    let rate: f64 = rate.parse().context("rate")?;
    let seconds: f64 = seconds.parse().context("seconds")?;
    let (warmup, headers) = match rest.first().map(|w| w.parse::<f64>()) {
        Some(Ok(warmup)) => (warmup, &rest[1..]),
        _ => (1.0, rest),
    };
    let mut header_map = reqwest::header::HeaderMap::new();
    for header in headers {
        let (name, value) = header.split_once(':').context("header: value")?;
        header_map.insert(
            reqwest::header::HeaderName::from_bytes(name.trim().as_bytes())?,
            value.trim().parse()?,
        );
    }
    let client = reqwest::Client::builder()
        .default_headers(header_map)
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        // Below the servers' 5 s: a connection they close (actix answers 408 first) is not
        // reused by a request in flight.
        .pool_idle_timeout(Duration::from_secs(2))
        .build()?;
    // The scheduler is this thread (nanosleep is precise to tens of µs; tokio's timer
    // wheel to 1 ms); the requests run on a small runtime.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let total = ((warmup + seconds) * rate) as u64;
    let measured_from = (warmup * rate) as u64;
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let period = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now() + Duration::from_millis(10);
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = start + period * i as u32;
        if let Some(wait) = scheduled.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let (client, url, slots) = (client.clone(), url.clone(), slots.clone());
        tasks.push(runtime.spawn(async move {
            let _slot = slots.acquire().await.map_err(|e| e.to_string())?;
            let outcome = match client.get(&url).send().await {
                Ok(response) => {
                    let status = response.status();
                    match response.bytes().await {
                        Ok(_) if status.is_success() => Ok(()),
                        Ok(_) => Err(status.to_string()),
                        Err(err) => Err(err.to_string()),
                    }
                }
                Err(err) => Err(err.to_string()),
            };
            let elapsed = scheduled.elapsed();
            outcome.map(|()| (i >= measured_from).then_some(elapsed))
        }));
    }
    let (mut latencies, mut failures) = (Vec::with_capacity(tasks.len()), Vec::new());
    runtime.block_on(async {
        for task in tasks {
            match task.await {
                Ok(Ok(Some(latency))) => latencies.push(latency),
                Ok(Ok(None)) => {}
                Ok(Err(err)) => failures.push(err),
                Err(err) => failures.push(err.to_string()),
            }
        }
    });
    if let Some(first) = failures.first() {
        bail!(
            "{} of {total} requests failed, e.g. {first}",
            failures.len()
        );
    }
    latencies.sort();
    let quantile = |q: f64| {
        let index = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index].as_secs_f64() * 1000.0
    };
    println!(
        "{:.3} {:.3} {}",
        quantile(0.5),
        quantile(0.99),
        latencies.len()
    );
    Ok(())
}
