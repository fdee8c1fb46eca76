use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, Stack, StackOptions, error_code};

#[tokio::test]
async fn a_login_through_one_replica_is_valid_on_the_other_and_logout_anywhere_ends_it_everywhere()
{
    let stack = Stack::start().await;
    let alice = stack.sign_up_and_in("alice").await;

    assert_eq!(stack.me(1, &alice.access_token).await, StatusCode::OK);
    let (status, _) = stack
        .call(
            1,
            Method::POST,
            "/v1/auth/logout",
            Some(&alice.access_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, body) = stack
        .call(
            0,
            Method::GET,
            "/v1/auth/me",
            Some(&alice.access_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "session_ended");
}

#[tokio::test]
async fn me_shows_the_signed_in_user_with_the_time_of_login() {
    let stack = Stack::start().await;
    let alice = stack.sign_up_and_in("alice").await;
    let (status, me) = stack
        .call(
            0,
            Method::GET,
            "/v1/auth/me",
            Some(&alice.access_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], alice.user_id);
    assert_eq!(me["account"], "alice");
    assert_eq!(me["email"], "alice@example.com");
    assert!(me["last_login_at"].as_str().unwrap().ends_with('Z'), "{me}");
    assert!(me.get("password_hash").is_none());
    assert_eq!(
        me["roles"],
        json!(["traveller"]),
        "what the web UI shows depends on it"
    );
    assert_eq!(me["wechat_linked"], false);
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user_and_no_one_elses() {
    let stack = Stack::start().await;
    let phone = stack.sign_up_and_in("alice").await;
    let (_, laptop) = stack.login_via(1, "alice", PASSWORD).await;
    let laptop = laptop["access_token"].as_str().unwrap().to_owned();
    let bob = stack.sign_up_and_in("bob").await;

    let (status, _) = stack
        .call(1, Method::POST, "/v1/auth/logout-all", Some(&laptop), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for i in 0..2 {
        assert_eq!(
            stack.me(i, &phone.access_token).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(stack.me(i, &laptop).await, StatusCode::UNAUTHORIZED);
        assert_eq!(stack.me(i, &bob.access_token).await, StatusCode::OK);
    }
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_but_keeps_this_one() {
    let stack = Stack::start().await;
    let here = stack.sign_up_and_in("alice").await;
    let (_, other) = stack.login_via(1, "alice", PASSWORD).await;
    let other = other["access_token"].as_str().unwrap().to_owned();

    let new_password = "a much better passphrase";
    let (status, body) = stack
        .call(
            0,
            Method::PUT,
            "/v1/auth/password",
            Some(&here.access_token),
            Some(json!({ "old_password": PASSWORD, "new_password": new_password })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    assert_eq!(stack.me(1, &here.access_token).await, StatusCode::OK);
    assert_eq!(stack.me(0, &other).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        stack.login_via(1, "alice", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        stack.login_via(1, "alice", new_password).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_password_change_needs_the_right_old_password_and_a_good_new_one() {
    let stack = Stack::start().await;
    let alice = stack.sign_up_and_in("alice").await;
    let cases = [
        (
            json!({ "old_password": "not my password", "new_password": "a much better passphrase" }),
            "old_password",
        ),
        (
            json!({ "old_password": PASSWORD, "new_password": "short" }),
            "new_password",
        ),
        (
            json!({ "old_password": PASSWORD, "new_password": PASSWORD }),
            "new_password",
        ),
        (
            json!({ "old_password": PASSWORD, "new_password": "password1234" }),
            "new_password",
        ),
    ];
    for (body, field) in cases {
        let (status, response) = stack
            .call(
                0,
                Method::PUT,
                "/v1/auth/password",
                Some(&alice.access_token),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{response}");
        assert!(
            response["error"]["details"]["fields"].get(field).is_some(),
            "{response}"
        );
    }
    assert_eq!(
        stack.login_via(0, "alice", PASSWORD).await.0,
        StatusCode::OK,
        "the password is unchanged"
    );
}

#[tokio::test]
async fn after_logout_even_an_emptied_redis_does_not_revive_the_token() {
    let mut stack = Stack::start_with(StackOptions {
        private_redis: true,
        ..Default::default()
    })
    .await;
    let alice = stack.sign_up_and_in("alice").await;
    let live = stack.sign_up_and_in("bob").await;
    stack
        .call(
            0,
            Method::POST,
            "/v1/auth/logout",
            Some(&alice.access_token),
            None,
        )
        .await;

    assert!(stack.redis().command(&["FLUSHALL"]).contains("OK"));
    assert_eq!(
        stack.me(0, &alice.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        stack.me(1, &alice.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    // Sessions are an allow-list: losing them signs everyone out rather than letting anyone in.
    assert_eq!(
        stack.me(0, &live.access_token).await,
        StatusCode::UNAUTHORIZED
    );
}
