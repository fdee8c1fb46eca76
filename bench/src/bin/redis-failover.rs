//! `bench/redis-failover`: Redis Sentinel on loopback (a master, a replica, three
//! sentinels: real `redis-server`s). Prints what the session durability choice costs (a
//! session write with and without `WAIT 1`), then kills the master with SIGKILL under a
//! steady load of session checks and prints how long they failed and how many, and
//! whether the sessions written before the crash survived. Numbers only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use auth_service::config::SessionSettings;
use auth_service::sessions::SessionStore;
use shared::redis::Redis;
use shared::testing::SentinelGroup;

const WRITES: usize = 500;
const CHECKERS: usize = 8;

#[tokio::main]
async fn main() {
    let mut group = SentinelGroup::start();
    let sessions = SessionSettings {
        idle_timeout: Duration::from_secs(1800),
        absolute_lifetime: Duration::from_secs(86_400),
        refresh_grace: Duration::from_secs(30),
    };
    let durable = group.settings();
    let mut no_wait = durable.clone();
    if let Some(sentinel) = no_wait.sentinel.as_mut() {
        sentinel.replica_wait = Duration::ZERO;
    }
    let mut sids = Vec::new();
    for (label, settings) in [("WAIT 1", &durable), ("no WAIT", &no_wait)] {
        let store = SessionStore::new(Redis::connect(settings).unwrap(), &sessions);
        store.create(1, "bench", "127.0.0.1").await.unwrap();
        let mut took = Vec::with_capacity(WRITES);
        for _ in 0..WRITES {
            let started = Instant::now();
            let (sid, _) = store.create(1, "bench", "127.0.0.1").await.unwrap();
            took.push(started.elapsed());
            sids.push(sid);
        }
        took.sort();
        let mean = took.iter().sum::<Duration>() / WRITES as u32;
        println!(
            "session write ({label}), {WRITES} sequential: mean {mean:?}, p50 {:?}, p99 {:?}",
            took[WRITES / 2],
            took[WRITES * 99 / 100]
        );
    }

    // Failover under load: every checker reads a session written above, as the gateway's
    // check does (one command, repeated once on a lost connection).
    let redis = Redis::connect(&durable).unwrap();
    let last = Arc::new(sids.last().cloned().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let last_failure = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let checkers: Vec<_> = (0..CHECKERS)
        .map(|_| {
            let (redis, last, stop) = (redis.clone(), last.clone(), stop.clone());
            let (ok, failed, last_failure) = (ok.clone(), failed.clone(), last_failure.clone());
            tokio::spawn(async move {
                // Bounded: 60 s at most.
                let deadline = Instant::now() + Duration::from_secs(60);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let key = redis.key(shared::session::key(&*last));
                    let found: Result<Option<i64>, _> = redis
                        .query_repeatable(
                            redis::cmd("HGET")
                                .arg(key)
                                .arg(shared::session::field::USER),
                        )
                        .await;
                    match found {
                        Ok(Some(_)) => ok.fetch_add(1, Ordering::Relaxed),
                        _ => {
                            *last_failure.lock().unwrap() = Some(Instant::now());
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let killed = Instant::now();
    group.master.kill();
    let replica = group.replica.port();
    while group.master_port() != Some(replica) {
        assert!(killed.elapsed() < Duration::from_secs(30), "no failover");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let promoted = killed.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for checker in checkers {
        checker.await.unwrap();
    }
    let failed_during = failed.load(Ordering::Relaxed) - before.1;
    let window = last_failure
        .lock()
        .unwrap()
        .map(|at| at.saturating_duration_since(killed));
    println!(
        "failover ({CHECKERS} checkers): replica promoted {promoted:?} after the SIGKILL; \
         {failed_during} checks failed, {} succeeded; the last failure {window:?} after the kill",
        ok.load(Ordering::Relaxed) - before.0
    );
    let mut survived = 0;
    for sid in &sids {
        let key = redis.key(shared::session::key(sid));
        if redis
            .query_repeatable::<Option<i64>>(
                redis::cmd("HGET")
                    .arg(key)
                    .arg(shared::session::field::USER),
            )
            .await
            .unwrap()
            .is_some()
        {
            survived += 1;
        }
    }
    println!(
        "sessions written before the kill found on the new master: {survived} of {}",
        sids.len()
    );
}
