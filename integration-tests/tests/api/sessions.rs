use std::time::Duration;

use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, Stack, StackOptions, error_code};

pub(crate) async fn refresh(stack: &Stack, gateway: usize, token: &Value) -> (StatusCode, Value) {
    stack
        .call(
            gateway,
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": token })),
        )
        .await
}

#[tokio::test]
async fn a_refresh_token_works_once_and_its_replay_ends_the_session() {
    let stack = Stack::start().await;
    let alice = stack.sign_up_and_in("alice").await;
    let first = json!(alice.refresh_token);

    let (status, fresh) = refresh(&stack, 1, &first).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    assert_eq!(fresh["token_type"], "Bearer");
    assert_ne!(fresh["refresh_token"], first);
    // The successor is used: from now on the first token can only be a copy.
    let (status, next) = refresh(&stack, 0, &fresh["refresh_token"]).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    let new_access = next["access_token"].as_str().unwrap();
    assert_eq!(stack.me(0, new_access).await, StatusCode::OK);

    let (status, body) = refresh(&stack, 0, &first).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "refresh_token_reused");
    assert_eq!(
        stack.me(0, new_access).await,
        StatusCode::UNAUTHORIZED,
        "the whole session ended"
    );
    let (status, _) = refresh(&stack, 0, &next["refresh_token"]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_refresh_retried_after_a_lost_response_gets_the_same_successor() {
    let stack = Stack::start().await;
    let alice = stack.sign_up_and_in("alice").await;
    let first = json!(alice.refresh_token);

    // The answer to this refresh never reaches the client...
    let (status, lost) = refresh(&stack, 0, &first).await;
    assert_eq!(status, StatusCode::OK, "{lost}");
    // ...which tries again, on another replica: the same successor, not a replay.
    let (status, retried) = refresh(&stack, 1, &first).await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(retried["refresh_token"], lost["refresh_token"]);
    assert_eq!(
        stack.me(0, retried["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );

    // The session goes on with the successor; then the first token is spent for good.
    let (status, next) = refresh(&stack, 1, &retried["refresh_token"]).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    let (status, body) = refresh(&stack, 0, &first).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "refresh_token_reused");
}

#[tokio::test]
async fn a_retry_after_the_grace_window_is_a_replay() {
    let grace = Duration::from_millis(300);
    let stack = Stack::start_with(StackOptions {
        refresh_grace: grace,
        ..Default::default()
    })
    .await;
    let alice = stack.sign_up_and_in("alice").await;
    let first = json!(alice.refresh_token);
    let (status, fresh) = refresh(&stack, 0, &first).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    // However loaded the machine, this much later the window has passed.
    tokio::time::sleep(grace * 2).await;
    let (status, body) = refresh(&stack, 1, &first).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "refresh_token_reused");
    let (status, _) = refresh(&stack, 0, &fresh["refresh_token"]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the session ended");
}

#[tokio::test]
async fn forged_or_garbage_refresh_tokens_are_refused_without_harm() {
    let stack = Stack::start().await;
    let alice = stack.sign_up_and_in("alice").await;
    let (sid, _) = alice.refresh_token.split_once('.').unwrap();
    for token in [
        "",
        "garbage",
        &format!("{sid}.0.AAAA"),
        &format!("{sid}.7.AAAA"),
        &alice.access_token,
    ] {
        let (status, body) = stack
            .call(
                0,
                Method::POST,
                "/v1/auth/refresh",
                None,
                Some(json!({ "refresh_token": token })),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}");
        assert_eq!(error_code(&body), "invalid_refresh_token");
    }
    assert_eq!(
        stack.me(0, &alice.access_token).await,
        StatusCode::OK,
        "forgeries do not end the session"
    );
}

#[tokio::test]
async fn a_user_lists_their_sessions_and_revokes_one() {
    let stack = Stack::start().await;
    let here = stack.sign_up_and_in("alice").await;
    let (_, other) = stack.login_via(1, "alice", PASSWORD).await;
    let other = other["access_token"].as_str().unwrap().to_owned();
    let bob = stack.sign_up_and_in("bob").await;

    let (status, list) = stack
        .call(
            0,
            Method::GET,
            "/v1/auth/sessions",
            Some(&here.access_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["count"], 2);
    let sessions = list["results"].as_array().unwrap();
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let other_sid = sessions.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, _) = stack
        .call(
            0,
            Method::DELETE,
            &format!("/v1/auth/sessions/{other_sid}"),
            Some(&bob.access_token),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "bob cannot end alice's session"
    );
    assert_eq!(stack.me(1, &other).await, StatusCode::OK);

    let (status, _) = stack
        .call(
            1,
            Method::DELETE,
            &format!("/v1/auth/sessions/{other_sid}"),
            Some(&here.access_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(stack.me(0, &other).await, StatusCode::UNAUTHORIZED);
    assert_eq!(stack.me(0, &here.access_token).await, StatusCode::OK);
    let (_, list) = stack
        .call(
            0,
            Method::GET,
            "/v1/auth/sessions",
            Some(&here.access_token),
            None,
        )
        .await;
    assert_eq!(list["count"], 1);
}

/// The session's remaining idle time in Redis, in milliseconds (negative once it is gone).
fn idle_left(stack: &mut Stack, session: &Session) -> i64 {
    let sid = session.refresh_token.split('.').next().unwrap();
    let key = format!(
        "{}{}",
        stack.redis_settings.key_prefix,
        shared::session::key(sid)
    );
    let reply = stack.redis().command(&["PTTL", &key]);
    reply.trim().trim_start_matches(':').parse().unwrap()
}

/// Read off the session's own expiry in Redis, not guessed from sleeps, so a loaded machine
/// cannot make it flaky.
#[tokio::test]
async fn an_idle_session_expires_and_activity_keeps_it_alive() {
    let idle = Duration::from_secs(3);
    let mut stack = Stack::start_with(StackOptions {
        private_redis: true,
        idle_timeout: idle,
        ..Default::default()
    })
    .await;
    let alice = stack.sign_up_and_in("alice").await;
    let half = idle.as_millis() as i64 / 2;

    // Unused, the session runs down; a request sets it back to the whole idle timeout.
    while idle_left(&mut stack, &alice) > half {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stack.me(0, &alice.access_token).await, StatusCode::OK);
    let after = idle_left(&mut stack, &alice);
    assert!(
        after > half,
        "the request slid the idle timeout ({after} ms left)"
    );

    // Left alone, it ends, and its token is refused on every replica.
    let deadline = std::time::Instant::now() + idle * 4;
    while idle_left(&mut stack, &alice) >= 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the session never expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for gateway in 0..2 {
        assert_eq!(
            stack.me(gateway, &alice.access_token).await,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_and_its_refresh_tokens_stop_working() {
    let stack = Stack::start().await;
    let alice = stack.sign_up_and_in("alice").await;
    let db = shared::db::Db::connect(&stack.db.url, 2, auth_service::startup::MIGRATIONS).unwrap();
    let user_id = alice.user_id;
    db.run(move |conn| {
        use auth_service::schema::users;
        diesel::update(users::table.find(user_id))
            .set(users::is_disabled.eq(true))
            .execute(conn)?;
        Ok(())
    })
    .await
    .unwrap();

    let (status, body) = stack.login_via(0, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&body), "account_disabled");
    let (status, body) = stack.login_via(0, "alice", "wrong password here").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the disabled state is shown only to the right password"
    );
    assert_eq!(error_code(&body), "invalid_credentials");
    let (status, _) = stack
        .call(
            0,
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": alice.refresh_token })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        stack.me(0, &alice.access_token).await,
        StatusCode::UNAUTHORIZED,
        "the session ended with the refresh"
    );
}

/// The `wp_refresh` cookie a response set, and its attributes.
fn refresh_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("wp_refresh="))
        .map(str::to_owned)
}

fn cookie_value(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map_or("", |(_, value)| value)
}

#[tokio::test]
async fn a_browser_keeps_its_refresh_token_in_an_http_only_cookie_that_rotates_and_logout_clears() {
    let stack = Stack::start().await;
    stack.register("alice").await;
    let cookie_transport = ("X-Refresh-Token-Transport", "cookie");

    let response = stack
        .request(0, Method::POST, "/v1/auth/login")
        .header(cookie_transport.0, cookie_transport.1)
        .json(&json!({ "account": "alice", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let set = refresh_cookie(&response).expect("login sets the refresh cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/v1/auth/refresh"] {
        assert!(set.contains(attribute), "{set} lacks {attribute}");
    }
    let first = cookie_value(&set).to_owned();
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["access_token"].is_string());
    assert!(
        body.get("refresh_token").is_none(),
        "script never sees the refresh token: {body}"
    );

    // The cookie alone is not enough: without the header it is ignored.
    let (status, body) = {
        let response = stack
            .request(1, Method::POST, "/v1/auth/refresh")
            .header("Cookie", format!("wp_refresh={first}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        (
            response.status(),
            response.json::<serde_json::Value>().await.unwrap(),
        )
    };
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["details"]["fields"]["refresh_token"].is_string(),
        "{body}"
    );

    let refresh = |cookie: String| {
        stack
            .request(1, Method::POST, "/v1/auth/refresh")
            .header(cookie_transport.0, cookie_transport.1)
            .header("Cookie", format!("wp_refresh={cookie}"))
            .json(&json!({}))
            .send()
    };
    let response = refresh(first.clone()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let second = cookie_value(&refresh_cookie(&response).expect("rotated")).to_owned();
    assert_ne!(second, first);
    let body: serde_json::Value = response.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(stack.me(0, &access).await, StatusCode::OK);

    let response = stack
        .request(0, Method::POST, "/v1/auth/logout")
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = refresh_cookie(&response).expect("logout clears the cookie");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let response = refresh(second).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let response = stack
        .request(0, Method::POST, "/v1/auth/refresh")
        .header(cookie_transport.0, cookie_transport.1)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "no cookie at all"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "invalid_refresh_token");
}
