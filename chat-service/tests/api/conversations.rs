use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, error_code};

#[tokio::test]
async fn a_traveller_opens_one_conversation_per_expert_and_gets_the_same_one_again() {
    let app = TestApp::start().await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));

    let response = app
        .request(0, &traveller, Method::POST, "/v1/chat/conversations")
        .json(&json!({ "expert_id": 100 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/chat/conversations/{}", created["id"])
    );
    assert_eq!(created["traveller_id"], 1);
    assert_eq!(created["expert_id"], 100);
    assert_eq!(created["counterpart"]["name"], "User 100");
    assert_eq!(created["last_message_id"], 0);
    assert_eq!(created["unread_count"], 0);
    assert!(created["last_message_at"].is_null());

    let (status, again) = app
        .post(
            0,
            &traveller,
            "/v1/chat/conversations",
            json!({ "expert_id": 100 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["id"], created["id"]);

    // The expert sees it from the other side.
    let (status, seen) = app.get(0, &expert, &location).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["counterpart"]["id"], 1);
    assert_eq!(seen["counterpart"]["account"], "user1");
}

#[tokio::test]
async fn a_conversation_needs_an_expert_who_is_someone_else() {
    let app = TestApp::start().await;
    let traveller = app.sign_in(1);
    let expert = app.sign_in(100);
    let cases = [
        (
            &traveller,
            json!({ "expert_id": 2 }),
            422,
            "validation_failed",
        ),
        (
            &expert,
            json!({ "expert_id": 100 }),
            422,
            "validation_failed",
        ),
        (
            &traveller,
            json!({ "expert_id": "100" }),
            422,
            "validation_failed",
        ),
        (&traveller, json!({}), 422, "validation_failed"),
        (
            &traveller,
            json!({ "expert_id": 100, "x": 1 }),
            422,
            "validation_failed",
        ),
    ];
    for (user, body, status, code) in cases {
        let (got, response) = app
            .post(0, user, "/v1/chat/conversations", body.clone())
            .await;
        assert_eq!(got.as_u16(), status, "{body}: {response}");
        assert_eq!(error_code(&response), code, "{body}");
    }
    let (_, response) = app
        .post(
            0,
            &traveller,
            "/v1/chat/conversations",
            json!({ "expert_id": 2 }),
        )
        .await;
    assert_eq!(
        response["error"]["details"]["fields"]["expert_id"],
        "is not a travel expert"
    );
}

#[tokio::test]
async fn an_expert_granted_the_role_a_moment_ago_can_be_chosen() {
    let app = TestApp::start().await;
    let traveller = app.sign_in(1);
    // Caches the expert list.
    assert_eq!(
        app.get(0, &traveller, "/v1/chat/experts").await.0,
        StatusCode::OK
    );
    app.directory.grant_expert(150);
    let (status, body) = app
        .post(
            0,
            &traveller,
            "/v1/chat/conversations",
            json!({ "expert_id": 150 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn experts_are_listed_with_names_and_whether_they_are_online() {
    let app = TestApp::start().await;
    let traveller = app.sign_in(1);
    let expert = app.sign_in(101);
    let _socket = app.connect(0, &expert).await;

    let (status, page) = app.get(0, &traveller, "/v1/chat/experts").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["count"], 3);
    let listed: Vec<(i64, bool)> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_i64().unwrap(), e["online"].as_bool().unwrap()))
        .collect();
    assert_eq!(listed, [(100, false), (101, true), (102, false)]);
    assert_eq!(page["results"][1]["name"], "User 101");

    let (_, online) = app.get(0, &traveller, "/v1/chat/experts?online=true").await;
    assert_eq!(online["count"], 1);
    assert_eq!(online["results"][0]["id"], 101);
    let (status, body) = app
        .get(0, &traveller, "/v1/chat/experts?online=maybe")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "invalid_parameter");
}

#[tokio::test]
async fn with_the_directory_down_the_cached_experts_are_served_and_without_a_cache_it_is_a_503() {
    let app = TestApp::start().await;
    let traveller = app.sign_in(1);
    app.directory.set_down(true);
    let (status, body) = app.get(0, &traveller, "/v1/chat/experts").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_code(&body), "directory_unavailable");

    app.directory.set_down(false);
    assert_eq!(
        app.get(0, &traveller, "/v1/chat/experts").await.0,
        StatusCode::OK
    );
    app.directory.set_down(true);
    let (status, body) = app.get(0, &traveller, "/v1/chat/experts").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["count"], 3);
}

#[tokio::test]
async fn history_pages_backwards_and_forwards_by_message_id() {
    let app = TestApp::start().await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    for i in 1..=7 {
        let sender = if i % 2 == 0 { &expert } else { &traveller };
        assert_eq!(app.send_rest(0, sender, id, &format!("m{i}")).await, i);
    }
    let path = format!("/v1/chat/conversations/{id}/messages");
    let bodies = |page: &serde_json::Value| -> Vec<String> {
        page["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap().to_owned())
            .collect()
    };

    let (status, latest) = app.get(0, &traveller, &format!("{path}?limit=3")).await;
    assert_eq!(status, StatusCode::OK, "{latest}");
    assert_eq!(bodies(&latest), ["m5", "m6", "m7"]);
    assert_eq!(latest["count"], 7);
    assert_eq!(latest["next"], serde_json::Value::Null);
    assert_eq!(latest["previous"], format!("{path}?before=5&limit=3"));

    let (_, older) = app
        .get(0, &expert, latest["previous"].as_str().unwrap())
        .await;
    assert_eq!(bodies(&older), ["m2", "m3", "m4"]);
    let (_, oldest) = app
        .get(0, &expert, older["previous"].as_str().unwrap())
        .await;
    assert_eq!(bodies(&oldest), ["m1"]);
    assert_eq!(oldest["previous"], serde_json::Value::Null);

    let (_, newer) = app
        .get(0, &traveller, &format!("{path}?after=2&limit=2"))
        .await;
    assert_eq!(bodies(&newer), ["m3", "m4"]);
    assert_eq!(newer["next"], format!("{path}?after=4&limit=2"));
    let (_, between) = app
        .get(0, &traveller, &format!("{path}?after=2&before=4"))
        .await;
    assert_eq!(bodies(&between), ["m3"]);
    let message = &newer["results"][0];
    assert_eq!(message["sender_id"], 1);
    assert_eq!(message["conversation_id"], id);
    assert!(message["created_at"].as_str().unwrap().ends_with('Z'));

    let (status, body) = app.get(0, &traveller, &format!("{path}?page=2")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["details"]["parameter"], "page");
}

#[tokio::test]
async fn unread_counts_follow_messages_and_read_markers() {
    let app = TestApp::start().await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    for body in ["hello", "are you there?", "I want to see pandas"] {
        app.send_rest(0, &traveller, id, body).await;
    }
    let unread = |user| {
        let app = &app;
        async move {
            let (status, page) = app.get(0, user, "/v1/chat/conversations").await;
            assert_eq!(status, StatusCode::OK, "{page}");
            assert_eq!(page["count"], 1);
            (
                page["results"][0]["unread_count"].as_i64().unwrap(),
                page["results"][0]["last_read_id"].as_i64().unwrap(),
            )
        }
    };
    assert_eq!(unread(&expert).await, (3, 0));
    assert_eq!(unread(&traveller).await, (0, 3));

    let read = format!("/v1/chat/conversations/{id}/read");
    let (status, marker) = app
        .post(0, &expert, &read, json!({ "last_read_id": 2 }))
        .await;
    assert_eq!(status, StatusCode::OK, "{marker}");
    assert_eq!(marker["unread_count"], 1);
    assert_eq!(unread(&expert).await, (1, 2));
    // Markers never move back.
    let (_, marker) = app
        .post(0, &expert, &read, json!({ "last_read_id": 1 }))
        .await;
    assert_eq!(marker["last_read_id"], 2);
    let (status, body) = app
        .post(0, &expert, &read, json!({ "last_read_id": 9 }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["details"]["fields"]["last_read_id"].is_string());

    // Replying reads everything before the reply.
    app.send_rest(0, &expert, id, "Chengdu, then").await;
    assert_eq!(unread(&expert).await, (0, 4));
    assert_eq!(unread(&traveller).await, (1, 3));
    let response = app
        .request(0, &traveller, Method::POST, &read)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(unread(&traveller).await, (0, 4));
}

#[tokio::test]
async fn a_third_user_cannot_see_or_post_in_someone_elses_conversation() {
    let app = TestApp::start().await;
    let (traveller, expert, stranger) = (app.sign_in(1), app.sign_in(100), app.sign_in(3));
    let id = app.conversation(&traveller, &expert).await;
    app.send_rest(0, &traveller, id, "private").await;

    let cases = [
        (Method::GET, format!("/v1/chat/conversations/{id}"), None),
        (
            Method::GET,
            format!("/v1/chat/conversations/{id}/messages"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/chat/conversations/{id}/messages/1"),
            None,
        ),
        (
            Method::POST,
            format!("/v1/chat/conversations/{id}/messages"),
            Some(json!({ "body": "hi" })),
        ),
        (
            Method::POST,
            format!("/v1/chat/conversations/{id}/read"),
            Some(json!({})),
        ),
        (
            Method::GET,
            "/v1/chat/conversations/999999".to_owned(),
            None,
        ),
    ];
    for (method, path, body) in cases {
        let (status, response) = app.call(0, &stranger, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {response}");
        assert_eq!(error_code(&response), "not_found", "{method} {path}");
        assert_eq!(response["error"]["message"], "conversation not found");
    }
    let (_, mine) = app.get(0, &stranger, "/v1/chat/conversations").await;
    assert_eq!(mine["count"], 0);
    let (_, history) = app
        .get(
            0,
            &traveller,
            &format!("/v1/chat/conversations/{id}/messages"),
        )
        .await;
    assert_eq!(history["count"], 1, "the stranger's post did not land");
}

#[tokio::test]
async fn sending_again_with_the_same_client_msg_id_returns_the_first_message() {
    let app = TestApp::start_with(crate::helpers::Options {
        replicas: 2,
        ..Default::default()
    })
    .await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    let path = format!("/v1/chat/conversations/{id}/messages");
    let body = json!({ "body": "book the train", "client_msg_id": "k-1" });
    let (status, first) = app.post(0, &traveller, &path, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = app.post(1, &traveller, &path, body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["client_msg_id"], "k-1");
    // The same key from the other participant is another message.
    let (status, other) = app
        .post(
            0,
            &expert,
            &path,
            json!({ "body": "ok", "client_msg_id": "k-1" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(other["id"], 2);
}

#[tokio::test]
async fn concurrent_senders_on_two_replicas_get_dense_increasing_ids() {
    let app = TestApp::start_with(crate::helpers::Options {
        replicas: 2,
        ..Default::default()
    })
    .await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    let path = format!("/v1/chat/conversations/{id}/messages");
    let sends = (0..40).map(|i| {
        let (replica, user) = if i % 2 == 0 {
            (0, &traveller)
        } else {
            (1, &expert)
        };
        // A quarter of the sends retry an earlier send of the same user, racing it.
        let key = format!("k{}", if i % 4 == 2 { i - 2 } else { i });
        app.post(
            replica,
            user,
            &path,
            json!({ "body": format!("m{i}"), "client_msg_id": key }),
        )
    });
    let results = futures_util::future::join_all(sends).await;
    for (status, body) in &results {
        assert!(status.is_success(), "{status} {body}");
    }
    let (_, history) = app.get(0, &traveller, &format!("{path}?limit=100")).await;
    let ids: Vec<i64> = history["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = (1..=30).collect();
    assert_eq!(ids, expected, "ids are 1..n without gaps");
    assert_eq!(history["count"], ids.len());
}

#[tokio::test]
async fn message_bodies_and_keys_are_validated_naming_the_field() {
    let app = TestApp::start().await;
    let (traveller, expert) = (app.sign_in(1), app.sign_in(100));
    let id = app.conversation(&traveller, &expert).await;
    let path = format!("/v1/chat/conversations/{id}/messages");
    let cases = [
        (json!({ "body": "" }), "body"),
        (json!({ "body": "  \n " }), "body"),
        (json!({ "body": "x".repeat(4_001) }), "body"),
        (json!({ "body": "bell\u{7}" }), "body"),
        (
            json!({ "body": "ok", "client_msg_id": "has space" }),
            "client_msg_id",
        ),
        (
            json!({ "body": "ok", "client_msg_id": "" }),
            "client_msg_id",
        ),
        (json!({ "body": 5 }), "body"),
    ];
    for (body, field) in cases {
        let (status, response) = app.post(0, &traveller, &path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {response}"
        );
        assert!(
            response["error"]["details"]["fields"].get(field).is_some()
                || response["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains(field),
            "{body}: {response}"
        );
    }
    let (status, _) = app
        .post(0, &traveller, &path, json!({ "body": "路".repeat(4_000) }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "4,000 characters are fine");
}

#[tokio::test]
async fn requests_that_did_not_come_through_the_gateway_have_no_identity() {
    let app = TestApp::start().await;
    let response = app
        .http
        .get(format!("{}/v1/chat/conversations", app.replicas[0].url))
        .header("x-user-id", "1")
        .header("x-session-id", "s")
        .send()
        .await
        .unwrap();
    let (status, body) = crate::helpers::read(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "internal_token_required");
}
