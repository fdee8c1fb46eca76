//! chat-service's own metrics after real sockets and messages across two replicas, read
//! with a real parser of the exposition format: each replica counts what it did itself.

use std::time::{Duration, Instant};

use shared::testing::Scraped;

use crate::helpers::{Options, TestApp};
use crate::recovery::store_unpublished;

const LIVE: [(&str, &str); 1] = [("via", "live")];
const FROM_DATABASE: [(&str, &str); 1] = [("via", "database")];
const DELIVERED: &str = "chat_messages_delivered_total";
const LAG: &str = "chat_fanout_lag_seconds_count";

/// How much `metric{labels}` moved on each replica between two scrapes.
fn moved(
    before: &[Scraped; 2],
    after: &[Scraped; 2],
    metric: &str,
    labels: &[(&str, &str)],
) -> [f64; 2] {
    [0, 1].map(|i| after[i].value(metric, labels) - before[i].value(metric, labels))
}

async fn scrape_both(app: &TestApp) -> [Scraped; 2] {
    [app.scrape(0).await, app.scrape(1).await]
}

#[tokio::test]
async fn sockets_messages_lag_gaps_and_presence_are_counted_by_the_replica_that_saw_them() {
    let app = TestApp::start_with(Options {
        replicas: 2,
        ..Default::default()
    })
    .await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    let start = scrape_both(&app).await;
    for scrape in &start {
        assert_eq!(scrape.value("chat_sockets_open", &[]), 0.0);
        assert_eq!(scrape.value("chat_presence_entries", &[]), 0.0);
    }

    // The traveller's phone on replica 0, the expert's desk on replica 1.
    let mut phone = app.connect(0, &traveller).await;
    let mut desk = app.connect(1, &expert).await;
    let open = scrape_both(&app).await;
    for scrape in &open {
        assert_eq!(scrape.value("chat_sockets_open", &[]), 1.0);
        assert_eq!(scrape.value("chat_presence_entries", &[]), 1.0);
    }

    // Three messages from the desk: stored by replica 1, delivered live to both sockets
    // (the sender's own socket gets them too, for its other tabs).
    for n in 1..=3 {
        desk.say(id, &format!("m{n}"), &format!("k{n}")).await;
    }
    assert_eq!(phone.messages(3).await.len(), 3);
    assert_eq!(desk.messages(3).await.len(), 3);
    let sent = scrape_both(&app).await;
    assert_eq!(
        moved(&open, &sent, "chat_messages_stored_total", &[]),
        [0.0, 3.0]
    );
    assert_eq!(moved(&open, &sent, DELIVERED, &LIVE), [3.0, 3.0]);
    assert_eq!(moved(&open, &sent, LAG, &[]), [3.0, 3.0]);
    // In seconds, and a loopback fan-out takes well under one.
    let lag = moved(&open, &sent, "chat_fanout_lag_seconds_sum", &[]);
    assert!(lag.iter().all(|sum| (0.0..3.0).contains(sum)), "{lag:?}");
    assert_eq!(moved(&open, &sent, "chat_gap_fills_total", &[]), [0.0, 0.0]);

    // A message whose publish was lost (stored behind the writers' back): the next one
    // reveals the gap, which both sockets fill from the database.
    let db = app.database().await;
    store_unpublished(&db, id, expert.id, "lost").await;
    desk.say(id, "after the gap", "k5").await;
    assert_eq!(phone.messages(2).await.len(), 2);
    assert_eq!(desk.messages(2).await.len(), 2);
    let filled = scrape_both(&app).await;
    assert_eq!(
        moved(&sent, &filled, "chat_gap_fills_total", &[]),
        [1.0, 1.0]
    );
    assert_eq!(moved(&sent, &filled, DELIVERED, &FROM_DATABASE), [1.0, 1.0]);
    assert_eq!(moved(&sent, &filled, DELIVERED, &LIVE), [1.0, 1.0]);
    assert_eq!(
        moved(&sent, &filled, "chat_messages_stored_total", &[]),
        [0.0, 1.0]
    );

    // Closed sockets leave no socket or presence entry counted.
    phone.close().await;
    desk.close().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = scrape_both(&app).await;
        let left: f64 = now
            .iter()
            .map(|s| s.value("chat_sockets_open", &[]) + s.value("chat_presence_entries", &[]))
            .sum();
        if left == 0.0 {
            break;
        }
        assert!(Instant::now() < deadline, "sockets still counted: {left}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        moved(
            &start,
            &scrape_both(&app).await,
            "chat_slow_sockets_dropped_total",
            &[]
        ),
        [0.0, 0.0]
    );
}
