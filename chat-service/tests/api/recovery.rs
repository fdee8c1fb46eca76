use std::collections::HashMap;
use std::time::{Duration, Instant};

use chat_service::config::SocketSettings;
use chat_service::models::{Message, MessageView, Side};
use chat_service::ws::frames::ServerFrame;
use diesel::RunQueryDsl;
use serde_json::{Value, json};
use shared::db::{Db, write_transaction};

use crate::helpers::{Client, Options, TestApp, User};

fn two_replicas() -> Options {
    Options {
        replicas: 2,
        ..Default::default()
    }
}

fn ids(frames: &[Value]) -> Vec<i64> {
    frames.iter().map(|f| f["id"].as_i64().unwrap()).collect()
}

/// The traveller, the expert, their conversation, and the traveller's socket on replica 0,
/// which has received the expert's first message ("one").
async fn chatting(app: &TestApp) -> (User, User, i64, Client) {
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    let mut phone = app.connect(0, &traveller).await;
    app.send_rest(0, &expert, id, "one").await;
    assert_eq!(phone.next_of("message").await["id"], 1);
    (traveller, expert, id, phone)
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
    let (traveller, expert, id, mut phone) = chatting(&app).await;

    // Drop the replica's subscription; what is published meanwhile reaches no one.
    let channel = app.user_channel(traveller.id);
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

/// Stores a message from `sender` (the expert) as the writer does, and publishes nothing,
/// as if its publish had been lost; returns the `message` frame the writer would publish.
pub async fn store_unpublished(
    db: &Db,
    conversation: i64,
    sender: i64,
    body: &'static str,
) -> String {
    db.run(move |conn| {
        let appended = write_transaction(conn, |conn| {
            Message::append(conn, conversation, Side::Expert, sender, body, None)
        })?;
        Ok(ServerFrame::Message(&MessageView::from(appended.message)).to_text())
    })
    .await
    .unwrap()
}

/// Renames the messages table: while it is away, every read of messages fails for real
/// (on SQLite and PostgreSQL alike), and nothing else is disturbed.
async fn rename_messages(db: &Db, from: &'static str, to: &'static str) {
    db.run(move |conn| {
        diesel::sql_query(format!("ALTER TABLE {from} RENAME TO {to}")).execute(conn)?;
        Ok(())
    })
    .await
    .unwrap();
}

fn kinds(frames: &[Value]) -> Vec<&str> {
    frames.iter().filter_map(|f| f["type"].as_str()).collect()
}

#[tokio::test]
async fn a_gap_that_cannot_be_read_closes_the_socket_and_the_resume_after_it_skips_nothing() {
    let app = TestApp::start().await;
    let (traveller, expert, id, mut phone) = chatting(&app).await;

    // 2 and 3 are stored; 2's publish is lost, and 3's arrives while messages cannot be read.
    let db = app.database().await;
    store_unpublished(&db, id, expert.id, "two").await;
    let three = store_unpublished(&db, id, expert.id, "three").await;
    rename_messages(&db, "messages", "messages_away").await;
    app.redis_command(&["PUBLISH", &app.user_channel(traveller.id), &three]);
    let (frames, close) = phone.frames_until_closed().await;
    assert_eq!(close, (1011, "internal_error".to_owned()));
    assert!(
        !kinds(&frames).contains(&"message"),
        "nothing is sent past the gap: {frames:?}"
    );
    rename_messages(&db, "messages_away", "messages").await;

    let mut phone = app.connect(0, &traveller).await;
    let (missed, done) = resume(&mut phone, id, 1).await;
    assert_eq!(ids(&missed), [2, 3]);
    assert_eq!(missed[0]["body"], "two");
    assert_eq!(
        done,
        json!({ "type": "resumed", "conversation_id": id, "last_id": 3, "count": 2 })
    );
    app.send_rest(0, &expert, id, "four").await;
    assert_eq!(phone.next_of("message").await["id"], 4);
}

#[tokio::test]
async fn a_resume_that_cannot_read_the_messages_closes_the_socket_instead_of_claiming_it_resumed() {
    let app = TestApp::start().await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    app.send_rest(0, &expert, id, "one").await;
    app.send_rest(0, &expert, id, "two").await;
    let db = app.database().await;

    let mut phone = app.connect(0, &traveller).await;
    rename_messages(&db, "messages", "messages_away").await;
    phone
        .send(json!({ "type": "resume", "conversation_id": id, "after": 0 }))
        .await;
    let (frames, close) = phone.frames_until_closed().await;
    assert_eq!(close, (1011, "internal_error".to_owned()));
    assert!(
        kinds(&frames).is_empty(),
        "nothing before the close: {frames:?}"
    );
    rename_messages(&db, "messages_away", "messages").await;

    let mut phone = app.connect(0, &traveller).await;
    let (missed, done) = resume(&mut phone, id, 0).await;
    assert_eq!(ids(&missed), [1, 2]);
    assert_eq!(done["count"], 2);
}

#[tokio::test]
async fn messages_sent_while_the_subscription_was_down_arrive_once_it_is_back_unprompted() {
    let mut app = TestApp::start_with(Options {
        private_redis: true,
        // Redis comes back empty: its sessions are gone, and this test is not about them.
        socket: SocketSettings {
            session_check_interval: Duration::from_secs(3_600),
            ..Options::default().socket
        },
        ..Default::default()
    })
    .await;
    let (_, expert, id, mut phone) = chatting(&app).await;

    // No Redis: both are stored, and published to no one.
    app.private_redis.as_mut().unwrap().stop();
    app.send_rest(0, &expert, id, "two").await;
    app.send_rest(0, &expert, id, "three").await;
    app.private_redis.as_mut().unwrap().restart();

    // Nothing else is sent: the resubscribed replica's sockets look for themselves.
    let messages = phone.messages(2).await;
    assert_eq!(ids(&messages), [2, 3]);
    assert_eq!(messages[1]["body"], "three");
    // Once the replica publishes again, the next message follows them, and nothing twice.
    app.wait_until_ready(0).await;
    app.send_rest(0, &expert, id, "four").await;
    assert_eq!(phone.next_of("message").await["id"], 4);
}
