use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, error_code};

fn refused(result: Result<crate::helpers::Client, (u16, Value)>) -> (u16, Value) {
    match result {
        Ok(_) => panic!("the handshake should have been refused"),
        Err(refusal) => refusal,
    }
}

#[tokio::test]
async fn a_handshake_without_a_valid_ticket_is_refused_before_the_upgrade() {
    let app = TestApp::start().await;
    let user = app.sign_in(1);

    let (status, body) = refused(app.handshake(0, None, None).await);
    assert_eq!((status, error_code(&body)), (401, "missing_ticket"));
    let (status, body) = refused(app.handshake(0, Some("not-a-ticket"), None).await);
    assert_eq!((status, error_code(&body)), (401, "invalid_ticket"));
    let forged = "ab".repeat(32);
    let (status, body) = refused(app.handshake(0, Some(&forged), None).await);
    assert_eq!((status, error_code(&body)), (401, "invalid_ticket"));

    // A ticket works once.
    let ticket = app.ticket(0, &user).await;
    assert_eq!(ticket.len(), 64, "256 random bits, hex");
    let socket = app.handshake(0, Some(&ticket), None).await;
    assert!(socket.is_ok());
    let (status, body) = refused(app.handshake(0, Some(&ticket), None).await);
    assert_eq!((status, error_code(&body)), (401, "invalid_ticket"));
}

#[tokio::test]
async fn a_reused_ticket_is_refused_on_the_other_replica_too() {
    let app = TestApp::start_with(crate::helpers::Options {
        replicas: 2,
        ..Default::default()
    })
    .await;
    let user = app.sign_in(1);
    let ticket = app.ticket(0, &user).await;
    assert!(app.handshake(1, Some(&ticket), None).await.is_ok());
    let (status, body) = refused(app.handshake(0, Some(&ticket), None).await);
    assert_eq!((status, error_code(&body)), (401, "invalid_ticket"));
}

#[tokio::test]
async fn an_expired_ticket_is_refused() {
    let app = TestApp::start().await;
    let user = app.sign_in(1);
    let ticket = app.ticket(0, &user).await;
    // Expire it in Redis, as 30 seconds would.
    let key = format!(
        "{}chat:ticket:{}",
        app.redis.key_prefix,
        hex::encode(Sha256::digest(ticket.as_bytes()))
    );
    assert_eq!(app.redis_command(&["PEXPIRE", &key, "1"]).trim(), ":1");
    while app.redis_command(&["EXISTS", &key]).trim() != ":0" {
        tokio::task::yield_now().await;
    }
    let (status, body) = refused(app.handshake(0, Some(&ticket), None).await);
    assert_eq!((status, error_code(&body)), (401, "invalid_ticket"));
}

#[tokio::test]
async fn a_ticket_whose_session_has_ended_is_refused() {
    let app = TestApp::start().await;
    let user = app.sign_in(1);
    let ticket = app.ticket(0, &user).await;
    app.sign_out(&user);
    let (status, body) = refused(app.handshake(0, Some(&ticket), None).await);
    assert_eq!((status, error_code(&body)), (401, "session_ended"));
}

#[tokio::test]
async fn an_origin_that_is_not_allowed_is_refused_without_spending_the_ticket() {
    let app = TestApp::start().await;
    let user = app.sign_in(1);
    let ticket = app.ticket(0, &user).await;
    for origin in ["https://evil.example", "http://127.0.0.1:8081", "null"] {
        let (status, body) = refused(app.handshake(0, Some(&ticket), Some(origin)).await);
        assert_eq!(
            (status, error_code(&body)),
            (403, "origin_not_allowed"),
            "{origin}"
        );
    }
    let socket = app
        .handshake(0, Some(&ticket), Some("http://localhost:8080"))
        .await;
    assert!(
        socket.is_ok(),
        "an allowed origin with the same ticket gets in"
    );
}

#[tokio::test]
async fn the_socket_answers_only_handshakes_that_came_through_the_gateway() {
    let app = TestApp::start().await;
    let user = app.sign_in(1);
    let ticket = app.ticket(0, &user).await;
    let url = format!(
        "ws://127.0.0.1:{}/v1/chat/ws?ticket={ticket}",
        app.replicas[0].port
    );
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 401);
        }
        other => panic!("expected a 401, got {:?}", other.map(|_| ())),
    }
    // The ticket was not spent.
    assert!(app.handshake(0, Some(&ticket), None).await.is_ok());
}

#[tokio::test]
async fn a_plain_request_to_the_socket_route_is_a_400() {
    let app = TestApp::start().await;
    let user = app.sign_in(1);
    let (status, body) = app.get(0, &user, "/v1/chat/ws?ticket=x").await;
    assert_eq!(status.as_u16(), 400);
    assert_eq!(error_code(&body), "websocket_required");
}

#[tokio::test]
async fn the_sockets_of_one_user_are_capped_across_replicas() {
    let mut socket = chat_service::config::SocketSettings {
        max_connections_per_user: 2,
        ..crate::helpers::Options::default().socket
    };
    socket.session_check_interval = std::time::Duration::from_millis(100);
    let app = TestApp::start_with(crate::helpers::Options {
        replicas: 2,
        socket,
        ..Default::default()
    })
    .await;
    let user = app.sign_in(1);
    let first = app.connect(0, &user).await;
    let _second = app.connect(1, &user).await;
    let ticket = app.ticket(0, &user).await;
    let (status, body) = refused(app.handshake(0, Some(&ticket), None).await);
    assert_eq!((status, error_code(&body)), (429, "too_many_connections"));

    // Closing one makes room.
    first.close().await;
    app.wait_for_sockets(0, 0).await;
    let _third = app.connect(0, &user).await;
}
