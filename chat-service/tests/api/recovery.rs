use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Client, Options, TestApp};

fn two_replicas() -> Options {
    Options {
        replicas: 2,
        ..Default::default()
    }
}

fn ids(frames: &[Value]) -> Vec<i64> {
    frames.iter().map(|f| f["id"].as_i64().unwrap()).collect()
}

async fn resume(client: &mut Client, conversation: i64, after: i64) -> (Vec<Value>, Value) {
    client
        .send(json!({ "type": "resume", "conversation_id": conversation, "after": after }))
        .await;
    let mut messages = Vec::new();
    loop {
        let frame = client.next().await;
        match frame["type"].as_str() {
            Some("message") => messages.push(frame),
            Some("resumed") => return (messages, frame),
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_client_that_reconnects_and_resumes_gets_what_it_missed_once_and_in_order() {
    let app = TestApp::start_with(two_replicas()).await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    let mut phone = app.connect(0, &traveller).await;
    let mut desk = app.connect(1, &expert).await;
    desk.say(id, "one", "k1").await;
    desk.say(id, "two", "k2").await;
    assert_eq!(ids(&phone.messages(2).await), [1, 2]);

    phone.close().await;
    for i in 3..=5 {
        desk.say(id, &format!("missed {i}"), &format!("k{i}")).await;
    }
    // Back, through the other replica this time.
    let mut phone = app.connect(1, &traveller).await;
    let (missed, done) = resume(&mut phone, id, 2).await;
    assert_eq!(ids(&missed), [3, 4, 5]);
    assert_eq!(missed[0]["body"], "missed 3");
    assert_eq!(
        done,
        json!({ "type": "resumed", "conversation_id": id, "last_id": 5, "count": 3 })
    );

    desk.say(id, "live again", "k6").await;
    let live = phone.next_of("message").await;
    assert_eq!(live["id"], 6);
    let (again, done) = resume(&mut phone, id, 5).await;
    assert!(again.is_empty(), "nothing is sent twice: {again:?}");
    assert_eq!(done["last_id"], 6);
    desk.say(id, "seven", "k7").await;
    assert_eq!(phone.next_of("message").await["id"], 7);
}

#[tokio::test]
async fn after_a_replica_restarts_its_clients_reconnect_and_resume_without_loss() {
    let mut app = TestApp::start_with(two_replicas()).await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    let mut phone = app.connect(0, &traveller).await;
    let mut desk = app.connect(1, &expert).await;
    desk.say(id, "before", "k1").await;
    assert_eq!(ids(&phone.messages(1).await), [1]);

    app.stop(0).await;
    assert_eq!(phone.closed().await, (1001, "server_restarting".to_owned()));
    desk.say(id, "while you were away", "k2").await;
    desk.say(id, "still away", "k3").await;
    app.restart(0).await;

    let mut phone = app.connect(0, &traveller).await;
    let (missed, done) = resume(&mut phone, id, 1).await;
    assert_eq!(ids(&missed), [2, 3]);
    assert_eq!(done["count"], 2);
    let ack = phone.say(id, "back", "p1").await;
    assert_eq!(ack["id"], 4);
    assert_eq!(ids(&desk.messages(4).await), [1, 2, 3, 4]);
}

#[tokio::test]
async fn messages_sent_at_once_through_two_replicas_reach_every_tab_in_order_exactly_once() {
    let app = TestApp::start_with(Options {
        replicas: 2,
        socket: chat_service::config::SocketSettings {
            rate_per_second: 1_000,
            rate_burst: 1_000,
            ..Options::default().socket
        },
        ..Default::default()
    })
    .await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    let mut phone = app.connect(0, &traveller).await;
    let mut tablet = app.connect(1, &traveller).await;
    let mut desk = app.connect(1, &expert).await;
    let n = 25;
    for i in 0..n {
        for (client, who) in [(&mut phone, "t"), (&mut desk, "e")] {
            client
                .send(json!({
                    "type": "send", "conversation_id": id,
                    "body": format!("{who}{i}"), "client_msg_id": format!("{who}{i}"),
                }))
                .await;
        }
    }
    let expected: Vec<i64> = (1..=2 * n).collect();
    for client in [&mut phone, &mut tablet, &mut desk] {
        assert_eq!(ids(&client.messages(2 * n as usize).await), expected);
    }
}

#[tokio::test]
async fn a_message_lost_by_pub_sub_during_a_redis_blip_is_still_delivered_in_order() {
    let app = TestApp::start_with(Options {
        private_redis: true,
        ..Default::default()
    })
    .await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    let mut phone = app.connect(0, &traveller).await;
    app.send_rest(0, &expert, id, "one").await;
    assert_eq!(phone.next_of("message").await["id"], 1);

    // Drop the replica's subscription; what is published meanwhile reaches no one.
    let channel = format!("{}chat:user:1", app.redis.key_prefix);
    app.redis_command(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    app.send_rest(0, &expert, id, "two").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !app
        .redis_command(&["PUBSUB", "NUMSUB", &channel])
        .trim_end()
        .ends_with(":1")
    {
        assert!(Instant::now() < deadline, "never resubscribed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    app.send_rest(0, &expert, id, "three").await;
    let messages = phone.messages(2).await;
    let bodies: HashMap<i64, &str> = messages
        .iter()
        .map(|m| (m["id"].as_i64().unwrap(), m["body"].as_str().unwrap()))
        .collect();
    assert_eq!(ids(&messages), [2, 3]);
    assert_eq!(bodies[&2], "two");
}
