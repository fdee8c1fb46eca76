//! Live chat end to end: two chat-service replicas, each behind its own gateway (A and B),
//! real sign-in through auth-service, roles from rbac-service, WebSockets through the
//! gateways' pass-through.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::testing::{ReservedPort, TestDatabase};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{Nginx, Session, Stack, StackOptions, error_code};

/// A chat socket; frames skipped while waiting for another type stay pending.
struct Socket {
    ws: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    pending: VecDeque<Value>,
}

struct Chat {
    stack: Stack,
    _db: TestDatabase,
}

impl Chat {
    /// The stack with chat replica A behind gateway 0 and replica B behind gateway 1.
    async fn start() -> Self {
        let reserved = [ReservedPort::new(), ReservedPort::new()];
        let gateway_routes = reserved
            .each_ref()
            .map(ReservedPort::port)
            .iter()
            .map(|port| vec![("/v1/chat/*".to_owned(), format!("http://127.0.0.1:{port}"))])
            .collect();
        let stack = Stack::start_with(StackOptions {
            gateway_routes,
            ..Default::default()
        })
        .await;
        let db = TestDatabase::new();
        for reservation in reserved {
            stack
                .start_chat_replica(reservation.into_listener(), &db)
                .await;
        }
        Self { stack, _db: db }
    }

    async fn expert(&self, account: &str) -> Session {
        let session = self.stack.sign_up_and_in(account).await;
        self.stack.set_roles(session.user_id, &["expert"]).await;
        session
    }

    /// A conversation of `traveller` with `expert`, opened through gateway A.
    async fn open_conversation(&self, traveller: &Session, expert: &Session) -> i64 {
        let (status, conversation) = self
            .call(
                0,
                traveller,
                Method::POST,
                "/v1/chat/conversations",
                Some(json!({ "expert_id": expert.user_id })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{conversation}");
        conversation["id"].as_i64().unwrap()
    }

    async fn call(
        &self,
        gw: usize,
        who: &Session,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.stack
            .call(gw, method, path, Some(&who.access_token), body)
            .await
    }

    async fn ticket(&self, gw: usize, who: &Session) -> String {
        let (status, body) = self
            .call(gw, who, Method::POST, "/v1/chat/ws-ticket", None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["ticket"].as_str().unwrap().to_owned()
    }

    /// A handshake through gateway `gw`.
    async fn handshake(
        &self,
        gw: usize,
        ticket: Option<&str>,
        headers: &[(&'static str, &str)],
    ) -> Result<Socket, (u16, Value)> {
        handshake_via(self.stack.gw(gw), ticket, headers).await
    }

    async fn connect(&self, gw: usize, who: &Session) -> Socket {
        let ticket = self.ticket(gw, who).await;
        self.handshake(gw, Some(&ticket), &[])
            .await
            .expect("socket opens")
    }
}

/// A handshake at `base` (a gateway, or nginx in front of the gateways).
async fn handshake_via(
    base: &str,
    ticket: Option<&str>,
    headers: &[(&'static str, &str)],
) -> Result<Socket, (u16, Value)> {
    let base = base.replace("http://", "ws://");
    let query = ticket.map(|t| format!("?ticket={t}")).unwrap_or_default();
    let mut request = format!("{base}/v1/chat/ws{query}")
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(Socket {
            ws,
            pending: VecDeque::new(),
        }),
        Err(tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_ref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            Err((response.status().as_u16(), body))
        }
        Err(err) => panic!("handshake failed: {err}"),
    }
}

async fn send(socket: &mut Socket, frame: Value) {
    socket
        .ws
        .send(Message::text(frame.to_string()))
        .await
        .unwrap();
}

/// The next frame of type `kind` (frames of other types stay pending).
async fn next_of(socket: &mut Socket, kind: &str) -> Value {
    if let Some(i) = socket.pending.iter().position(|f| f["type"] == kind) {
        return socket.pending.remove(i).unwrap();
    }
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.ws.next())
            .await
            .expect("a frame in time")
            .expect("socket open")
            .expect("readable");
        if let Message::Text(text) = message {
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["type"] == kind {
                return frame;
            }
            socket.pending.push_back(frame);
        }
    }
}

async fn closed(socket: &mut Socket) -> (u16, String) {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.ws.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (u16::from(frame.code), frame.reason.to_string());
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_traveller_behind_gateway_a_and_an_expert_behind_gateway_b_chat_live() {
    let chat = Chat::start().await;
    let traveller = chat.stack.sign_up_and_in("lily").await;
    let expert = chat.expert("wang").await;

    let id = chat.open_conversation(&traveller, &expert).await;

    let mut phone = chat.connect(0, &traveller).await;
    let mut laptop = chat.connect(1, &traveller).await;
    let mut desk = chat.connect(1, &expert).await;

    let first = json!({
        "type": "send", "conversation_id": id,
        "body": "Hi! Two days in Xi'an?", "client_msg_id": "t1",
    });
    send(&mut phone, first).await;
    let ack = next_of(&mut phone, "ack").await;
    assert_eq!(
        (ack["id"].as_i64(), ack["client_msg_id"].as_str()),
        (Some(1), Some("t1"))
    );
    for socket in [&mut phone, &mut laptop, &mut desk] {
        let first = next_of(socket, "message").await;
        assert_eq!(
            (first["id"].as_i64(), first["sender_id"].as_i64()),
            (Some(1), Some(traveller.user_id))
        );
    }
    let reply = json!({
        "type": "send", "conversation_id": id,
        "body": "Warriors, then the wall by bike.", "client_msg_id": "e1",
    });
    send(&mut desk, reply).await;
    assert_eq!(next_of(&mut desk, "ack").await["id"], 2);
    for socket in [&mut phone, &mut laptop, &mut desk] {
        let second = next_of(socket, "message").await;
        assert_eq!(second["id"], 2);
        assert_eq!(second["body"], "Warriors, then the wall by bike.");
    }

    let (status, history) = chat
        .call(
            1,
            &expert,
            Method::GET,
            &format!("/v1/chat/conversations/{id}/messages"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history["count"], 2);
    let (_, mine) = chat
        .call(0, &traveller, Method::GET, "/v1/chat/conversations", None)
        .await;
    assert_eq!(mine["results"][0]["unread_count"], 1);
    assert_eq!(mine["results"][0]["counterpart"]["id"], expert.user_id);
}

#[tokio::test]
async fn logging_out_closes_the_sessions_sockets_on_both_replicas() {
    let chat = Chat::start().await;
    let traveller = chat.stack.sign_up_and_in("lily").await;
    let mut on_a = chat.connect(0, &traveller).await;
    let mut on_b = chat.connect(1, &traveller).await;
    let (status, _) = chat
        .call(1, &traveller, Method::POST, "/v1/auth/logout", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(closed(&mut on_a).await, (4401, "session_ended".to_owned()));
    assert_eq!(closed(&mut on_b).await, (4401, "session_ended".to_owned()));
}

#[tokio::test]
async fn a_stopping_gateway_ends_its_sockets_when_its_grace_is_over_and_they_resume_elsewhere() {
    let chat = Chat::start().await;
    let traveller = chat.stack.sign_up_and_in("lily").await;
    let expert = chat.expert("wang").await;
    let id = chat.open_conversation(&traveller, &expert).await;
    let mut through_b = chat.connect(1, &traveller).await;
    let stopper = chat.stack.gateway_stopper(1);
    let started = std::time::Instant::now();
    let stopping = tokio::spawn(async move { stopper.stop().await });
    // The tunnel ends with the grace (SHUTDOWN_GRACE, 2 s), not at the stop's timeout
    // (SHUTDOWN_TIMEOUT, 10 s more) when actix would cut it.
    let end = tokio::time::timeout(Duration::from_secs(8), async {
        loop {
            match through_b.ws.next().await {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(
        end.is_ok(),
        "the socket through the stopping gateway stayed open"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "ended before the grace"
    );
    tokio::time::timeout(Duration::from_secs(8), stopping)
        .await
        .expect("the gateway stopped without waiting for its timeout")
        .unwrap();
    // The client resumes through the other gateway.
    let mut through_a = chat.connect(0, &traveller).await;
    let hello = json!({
        "type": "send", "conversation_id": id, "body": "Still there?", "client_msg_id": "t1",
    });
    send(&mut through_a, hello).await;
    assert_eq!(next_of(&mut through_a, "ack").await["client_msg_id"], "t1");
}

#[tokio::test]
async fn the_gateways_relay_the_services_refusals_of_bad_handshakes() {
    let chat = Chat::start().await;
    let traveller = chat.stack.sign_up_and_in("lily").await;

    let refused = |result: Result<Socket, (u16, Value)>| match result {
        Ok(_) => panic!("should be refused"),
        Err(refusal) => refusal,
    };
    let (status, body) = refused(chat.handshake(0, None, &[]).await);
    assert_eq!((status, error_code(&body)), (401, "missing_ticket"));

    let ticket = chat.ticket(0, &traveller).await;
    let (status, body) = refused(
        chat.handshake(1, Some(&ticket), &[("origin", "https://evil.example")])
            .await,
    );
    assert_eq!((status, error_code(&body)), (403, "origin_not_allowed"));
    // A client's identity headers are stripped: they neither help nor hurt.
    let socket = chat
        .handshake(
            1,
            Some(&ticket),
            &[("origin", "http://localhost:8080"), ("x-user-id", "999")],
        )
        .await;
    assert!(socket.is_ok());
    let (status, body) = refused(chat.handshake(0, Some(&ticket), &[]).await);
    assert_eq!((status, error_code(&body)), (401, "invalid_ticket"));
}

#[tokio::test]
async fn chat_routes_other_than_the_socket_need_a_signed_in_user() {
    let chat = Chat::start().await;
    for (method, path) in [
        (Method::POST, "/v1/chat/ws-ticket"),
        (Method::GET, "/v1/chat/conversations"),
        (Method::GET, "/v1/chat/experts"),
    ] {
        let (status, body) = chat.stack.call(0, method.clone(), path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(error_code(&body), "missing_token");
    }
}

#[tokio::test]
async fn a_socket_through_nginx_stays_open_while_idle_longer_than_a_read_may_take() {
    let chat = Chat::start().await;
    let traveller = chat.stack.sign_up_and_in("lily").await;
    let expert = chat.expert("wang").await;
    let id = chat.open_conversation(&traveller, &expert).await;
    let nginx = Nginx::start(&[chat.stack.gw(0), chat.stack.gw(1)]);
    let ticket = chat.ticket(0, &traveller).await;
    let mut socket = handshake_via(&nginx.base, Some(&ticket), &[])
        .await
        .expect("socket opens through nginx");

    // Silent for longer than nginx lets a read (GET) wait for a gateway, shorter than the
    // heartbeat: the socket has its own, longer timeouts.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let hello = json!({
        "type": "send", "conversation_id": id,
        "body": "Still there?", "client_msg_id": "t1",
    });
    send(&mut socket, hello).await;
    assert_eq!(next_of(&mut socket, "ack").await["client_msg_id"], "t1");
}
