use std::time::Duration;

use chat_service::config::SocketSettings;
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{Options, TestApp};

fn with_socket(socket: SocketSettings) -> Options {
    Options {
        socket,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_frame_over_16_kib_closes_the_socket_with_1009() {
    let app = TestApp::start().await;
    let user = app.sign_in(1);
    let mut socket = app.connect(0, &user).await;
    let big =
        json!({ "type": "resume", "conversation_id": 1, "after": 0, "pad": "x".repeat(16 * 1024) });
    socket.send_text(big.to_string()).await;
    assert_eq!(socket.closed().await, (1009, "frame_too_large".to_owned()));
}

#[tokio::test]
async fn a_flood_gets_error_frames_then_a_1008_close() {
    let app = TestApp::start_with(with_socket(SocketSettings {
        rate_per_second: 1,
        rate_burst: 3,
        rate_tolerance: 5,
        ..Options::default().socket
    }))
    .await;
    let user = app.sign_in(1);
    let mut socket = app.connect(0, &user).await;
    for _ in 0..50 {
        let frame = json!({ "type": "read", "conversation_id": 999 });
        if socket
            .ws
            .send(Message::text(frame.to_string()))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut codes = Vec::new();
    let close = loop {
        match tokio::time::timeout(
            Duration::from_secs(5),
            futures_util::StreamExt::next(&mut socket.ws),
        )
        .await
        .expect("the server answers")
        {
            Some(Ok(Message::Text(text))) => {
                let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
                codes.push(frame["code"].as_str().unwrap().to_owned());
            }
            Some(Ok(Message::Close(Some(close)))) => {
                break (u16::from(close.code), close.reason.to_string());
            }
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close, (1008, "rate_limited".to_owned()));
    // The burst was handled (the conversation does not exist), the excess refused.
    let handled = codes.iter().filter(|c| *c == "not_found").count();
    let refused = codes.iter().filter(|c| *c == "rate_limited").count();
    assert!(handled >= 3, "{codes:?}");
    assert!(refused >= 5, "{codes:?}");
}

#[tokio::test]
async fn a_client_that_never_answers_pings_is_closed() {
    let app = TestApp::start_with(with_socket(SocketSettings {
        // The lively client has a generous 2 s to answer each ping, so a loaded machine
        // cannot make it look silent; the silent one is dropped 2 s after its first ping.
        ping_interval: Duration::from_millis(200),
        pong_timeout: Duration::from_secs(2),
        ..Options::default().socket
    }))
    .await;
    let user = app.sign_in(1);
    // Not reading means not answering pings (the client library answers when it reads).
    let mut silent = app.connect(0, &user).await;
    let mut lively = app.connect(0, &user).await;
    let silent_dropped = app.wait_for_sockets(0, 1);
    tokio::pin!(silent_dropped);
    loop {
        tokio::select! {
            _ = &mut silent_dropped => break,
            // Reading answers the pings.
            frame = futures_util::StreamExt::next(&mut lively.ws) => {
                assert!(matches!(frame, Some(Ok(Message::Ping(_)))), "{frame:?}");
            }
        }
    }
    // The lively one, reading all along, answered its pings and is still open.
    lively
        .send(json!({ "type": "read", "conversation_id": 999 }))
        .await;
    assert_eq!(lively.next_of("error").await["code"], "not_found");
    assert_eq!(
        silent.closed().await,
        (4408, "heartbeat_timeout".to_owned())
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_everyone_else_gets_every_message() {
    let app = TestApp::start_with(with_socket(SocketSettings {
        outbound_queue: 8,
        rate_per_second: 10_000,
        rate_burst: 10_000,
        tcp_user_timeout: Duration::from_secs(1),
        ..Options::default().socket
    }))
    .await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    let ticket = app.ticket(0, &traveller).await;
    // A small receive window: the server's writes stall after a few kilobytes.
    let mut stalled = match app.handshake_over(0, Some(&ticket), None, Some(4096)).await {
        Ok(client) => client,
        Err(refusal) => panic!("{refusal:?}"),
    };
    let mut reader = app.connect(0, &traveller).await;
    let mut sender = app.connect(0, &expert).await;
    let big = "路".repeat(4_000);

    let mut sent = 0;
    loop {
        sent += 1;
        let ack = sender.say(id, &big, &format!("k{sent}")).await;
        assert_eq!(ack["id"], sent, "the sender is never held up");
        let frame = reader.next_of("message").await;
        assert_eq!(
            frame["id"], sent,
            "the reading tab gets every message, in order"
        );
        if app.stats(0).await.0 == 2 {
            break;
        }
        assert!(sent < 500, "the stalled socket was never dropped");
    }
    for _ in 0..5 {
        sent += 1;
        sender.say(id, "after the drop", &format!("k{sent}")).await;
        assert_eq!(reader.next_of("message").await["id"], sent);
    }

    // When it finally reads, the stalled client finds its connection ended, short of
    // the messages sent after it fell behind.
    let mut received = 0;
    loop {
        match tokio::time::timeout(
            Duration::from_secs(10),
            futures_util::StreamExt::next(&mut stalled.ws),
        )
        .await
        .expect("the stalled connection ends")
        {
            Some(Ok(Message::Text(_))) => received += 1,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            _ => break,
        }
    }
    assert!(received < sent, "received {received} of {sent}");
}
