use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp};

fn two_replicas() -> Options {
    Options {
        replicas: 2,
        ..Default::default()
    }
}

fn bodies(frames: &[Value]) -> Vec<&str> {
    frames.iter().map(|f| f["body"].as_str().unwrap()).collect()
}

fn ids(frames: &[Value]) -> Vec<i64> {
    frames.iter().map(|f| f["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn a_traveller_on_one_replica_and_an_expert_on_the_other_chat_in_order_on_every_tab() {
    let app = TestApp::start_with(two_replicas()).await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    let mut phone = app.connect(0, &traveller).await;
    let mut laptop = app.connect(0, &traveller).await;
    let mut desk = app.connect(1, &expert).await;

    let ack = phone
        .say(id, "Hello! Is Jiuzhaigou open in May?", "p-1")
        .await;
    assert_eq!(ack["client_msg_id"], "p-1");
    assert_eq!(
        (ack["id"].as_i64(), ack["duplicate"].as_bool()),
        (Some(1), Some(false))
    );
    assert!(ack["created_at"].as_str().unwrap().ends_with('Z'));
    let ack = desk.say(id, "It is, and quiet before June.", "d-1").await;
    assert_eq!(ack["id"], 2);
    let ack = phone.say(id, "Great, book me.", "p-2").await;
    assert_eq!(ack["id"], 3);

    let expected = [
        "Hello! Is Jiuzhaigou open in May?",
        "It is, and quiet before June.",
        "Great, book me.",
    ];
    for client in [&mut phone, &mut laptop, &mut desk] {
        let messages = client.messages(3).await;
        assert_eq!(bodies(&messages), expected);
        assert_eq!(ids(&messages), [1, 2, 3]);
        assert_eq!(messages[0]["sender_id"], 1);
        assert_eq!(messages[1]["sender_id"], 100);
        assert_eq!(messages[0]["client_msg_id"], "p-1");
        assert_eq!(messages[0]["conversation_id"], id);
    }

    // History and unread counts agree, through either replica.
    let (status, history) = app
        .get(1, &expert, &format!("/v1/chat/conversations/{id}/messages"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bodies(history["results"].as_array().unwrap()), expected);
    let (_, list) = app.get(1, &expert, "/v1/chat/conversations").await;
    assert_eq!(list["results"][0]["unread_count"], 1);
    assert_eq!(list["results"][0]["counterpart"]["online"], true);
}

#[tokio::test]
async fn a_message_sent_over_rest_reaches_the_sockets_of_both_participants() {
    let app = TestApp::start_with(two_replicas()).await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    let mut mine = app.connect(1, &traveller).await;
    let mut theirs = app.connect(0, &expert).await;
    app.send_rest(0, &traveller, id, "sent from the app's form")
        .await;
    for client in [&mut mine, &mut theirs] {
        let frame = client.next_of("message").await;
        assert_eq!(frame["body"], "sent from the app's form");
    }
}

#[tokio::test]
async fn a_retried_send_is_acked_as_a_duplicate_and_delivered_once() {
    let app = TestApp::start_with(two_replicas()).await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    let mut phone = app.connect(0, &traveller).await;
    let mut desk = app.connect(1, &expert).await;
    let first = phone.say(id, "once", "same-key").await;
    let again = phone.say(id, "once", "same-key").await;
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["duplicate"], true);
    phone.say(id, "twice?", "next-key").await;
    let messages = desk.messages(2).await;
    assert_eq!(bodies(&messages), ["once", "twice?"]);
}

#[tokio::test]
async fn read_markers_reach_both_participants_sockets() {
    let app = TestApp::start_with(two_replicas()).await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    let mut phone = app.connect(0, &traveller).await;
    let mut desk = app.connect(1, &expert).await;
    phone.say(id, "one", "k1").await;
    phone.say(id, "two", "k2").await;
    desk.messages(2).await;
    desk.send(json!({ "type": "read", "conversation_id": id, "last_read_id": 2 }))
        .await;
    for client in [&mut phone, &mut desk] {
        let read = client.next_of("read").await;
        assert_eq!(read["conversation_id"], id);
        assert_eq!(read["user_id"], 100);
        assert_eq!(read["last_read_id"], 2);
    }
}

#[tokio::test]
async fn counterparts_are_told_when_someone_comes_online_and_leaves() {
    let app = TestApp::start_with(two_replicas()).await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    app.conversation(&traveller, &expert).await;
    let mut phone = app.connect(0, &traveller).await;
    let desk = app.connect(1, &expert).await;
    let frame = phone.next_of("presence").await;
    assert_eq!(
        frame,
        json!({ "type": "presence", "user_id": 100, "online": true })
    );
    // A second socket of the same user changes nothing; the last one leaving does.
    let second = app.connect(0, &expert).await;
    second.close().await;
    desk.close().await;
    let frame = phone.next_of("presence").await;
    assert_eq!(
        frame,
        json!({ "type": "presence", "user_id": 100, "online": false })
    );
}

#[tokio::test]
async fn logging_out_closes_the_sessions_sockets_on_every_replica_and_no_others() {
    let app = TestApp::start_with(two_replicas()).await;
    let phone_session = app.sign_in(1);
    let laptop_session = app.sign_in(1);
    let mut on_a = app.connect(0, &phone_session).await;
    let mut on_b = app.connect(1, &phone_session).await;
    let mut other = app.connect(1, &laptop_session).await;

    app.sign_out(&phone_session);
    for client in [&mut on_a, &mut on_b] {
        assert_eq!(client.closed().await, (4401, "session_ended".to_owned()));
    }
    app.wait_for_sockets(0, 0).await;
    app.wait_for_sockets(1, 1).await;
    // The other session's socket still works.
    let (traveller, expert) = (laptop_session, app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    let ack = other.say(id, "still here", "k").await;
    assert_eq!(ack["id"], 1);
}

#[tokio::test]
async fn bad_frames_get_error_frames_and_the_socket_stays_open() {
    let app = TestApp::start().await;
    let (traveller, expert, stranger) = (app.sign_in(1), app.sign_in(100), app.sign_in(3));
    let id = app.conversation(&traveller, &expert).await;
    let mut socket = app.connect(0, &stranger).await;
    let cases = [
        ("not json".to_owned(), "invalid_frame", None),
        (json!({ "type": "shout" }).to_string(), "invalid_frame", None),
        (
            json!({ "type": "send", "conversation_id": id, "body": "hi", "client_msg_id": "k" })
                .to_string(),
            "not_found",
            Some("k"),
        ),
        (
            json!({ "type": "send", "conversation_id": id, "body": "", "client_msg_id": "k2" })
                .to_string(),
            "validation_failed",
            Some("k2"),
        ),
        (
            json!({ "type": "send", "conversation_id": id, "body": "x", "client_msg_id": "bad key" })
                .to_string(),
            "validation_failed",
            Some("bad key"),
        ),
        (
            json!({ "type": "resume", "conversation_id": id, "after": 0 }).to_string(),
            "not_found",
            None,
        ),
        (
            json!({ "type": "read", "conversation_id": id }).to_string(),
            "not_found",
            None,
        ),
    ];
    for (text, code, key) in cases {
        socket.send_text(text.clone()).await;
        let frame = socket.next().await;
        assert_eq!(frame["type"], "error", "{text}");
        assert_eq!(frame["code"], code, "{text}: {frame}");
        assert!(frame["message"].is_string());
        assert_eq!(frame["client_msg_id"].as_str(), key, "{text}");
    }
    let (_, history) = app
        .get(
            0,
            &traveller,
            &format!("/v1/chat/conversations/{id}/messages"),
        )
        .await;
    assert_eq!(history["count"], 0);
}
