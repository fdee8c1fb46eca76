//! `bench/recommend` part 4: recommend-service's model rebuilds while signals arrive
//! without pause. Fits the database at `DATABASE_URL` (already imported) under one
//! rebuild rule for `SECONDS`, writing a view signal every 1/`RATE` s as the signal
//! route does (row + change announcement), and prints fits per minute, the share of
//! the time spent rebuilding and how stale the model got. One rule per process, so a
//! fit still running at the end dies with it. Before that, the cost of `auto`'s choice:
//! the first rebuild (choosing) and the next (keeping the choice).
//!
//! Usage: rebuild-storm DATABASE_URL SECONDS RATE SPACING [CHECK_EVERY_MS]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use recommend_service::engine::{RebuildStats, Recommender};
use recommend_service::models::{NewSignal, Signal};
use recommend_service::schedule::RebuildRule;
use recommend_service::schema::{ratings, trips};
use shared::db::Db;
use shared::redis::Redis;
use shared::testing::RedisServer;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, seconds, rate, spacing, rest @ ..] = args.as_slice() else {
        panic!("usage: rebuild-storm DATABASE_URL SECONDS RATE SPACING [CHECK_EVERY_MS]");
    };
    let window = Duration::from_secs(seconds.parse().unwrap());
    let rate: f64 = rate.parse().unwrap();
    let rule = RebuildRule {
        check_every: Duration::from_millis(rest.first().map_or(2000, |ms| ms.parse().unwrap())),
        spacing: spacing.parse().unwrap(),
    };
    let db = Db::open(url.clone(), 4, recommend_service::startup::MIGRATIONS)
        .await
        .unwrap();
    let redis_server = RedisServer::start();
    let redis = Redis::connect(&redis_server.settings()).unwrap();
    let (users, trips) = db
        .run(|conn| {
            let users: Vec<i64> = ratings::table
                .select(ratings::user_id)
                .distinct()
                .load(conn)?;
            let trips: Vec<i64> = trips::table.select(trips::id).load(conn)?;
            Ok((users, trips))
        })
        .await
        .unwrap();

    let recommender = Arc::new(Recommender::new(db.clone(), redis));
    // The replica has been up a while: its first fit, where `auto` chooses, is behind it.
    let choosing = recommender.rebuild().await.unwrap();
    let first = recommender.rebuild().await.unwrap();
    let auto = &choosing.auto;
    let evidence: Vec<String> = auto
        .held_out
        .iter()
        .map(|h| format!("{} {:.4}", h.strategy.name(), h.precision_at_10))
        .collect();
    println!(
        "first rebuild, auto choosing: {:.2} s ({} interactions); auto → {} by {:.4} over {} users (held-out precision@10: {}); next rebuild, keeping the choice: {:.2} s",
        choosing.seconds,
        choosing.interactions,
        auto.strategy.name(),
        auto.margin,
        auto.users,
        evidence.join(", "),
        first.seconds,
    );
    let before = recommender.stats();
    let started = Instant::now();
    tokio::spawn(recommender.clone().run(rule));
    let mut sent = 0u64;
    let mut random = 0x9E37_79B9_7F4A_7C15u64;
    while started.elapsed() < window {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        let row = NewSignal {
            user_id: users[(random % users.len() as u64) as usize],
            trip_id: trips[((random >> 32) % trips.len() as u64) as usize],
            kind: "view".into(),
            reference: format!("storm:{}:{sent}", rule.spacing),
            created_at: shared::time::now(),
        };
        db.run(move |conn| Ok(Signal::record(conn, &row)?))
            .await
            .unwrap();
        recommender.changed().await;
        sent += 1;
        let due = started + Duration::from_secs_f64(sent as f64 / rate);
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
    }
    report(
        rule,
        first.seconds,
        sent,
        window,
        &before,
        &recommender.stats(),
    );
    std::process::exit(0);
}

fn report(
    rule: RebuildRule,
    first_fit: f64,
    sent: u64,
    window: Duration,
    before: &RebuildStats,
    after: &RebuildStats,
) {
    let fits = after.fits - before.fits;
    let fitting = after.fitting - before.fitting;
    let minutes = window.as_secs_f64() / 60.0;
    println!(
        "spacing {:>2} (check every {:?}): {sent} signals in {:.0} s; {fits} fits = {:.1} fits/min; \
         rebuilding {:.0} % of the time (bound {:.0} %); one fit {:.2} s; model lag: last {:.1} s, max {:.1} s, at the end {:.1} s",
        rule.spacing,
        rule.check_every,
        window.as_secs_f64(),
        fits as f64 / minutes,
        100.0 * fitting.as_secs_f64() / window.as_secs_f64(),
        100.0 * rule.max_fitting_share(),
        first_fit,
        after.last_lag.as_secs_f64(),
        after.max_lag.as_secs_f64(),
        after.waiting.unwrap_or_default().as_secs_f64(),
    );
}
