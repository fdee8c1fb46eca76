use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Stack, StackOptions, error_code};

async fn register(stack: &Stack, body: Value) -> (StatusCode, Value) {
    stack
        .call(0, Method::POST, "/v1/auth/register", None, Some(body))
        .await
}

fn fields(body: &Value) -> Vec<String> {
    let mut names: Vec<String> = body["error"]["details"]["fields"]
        .as_object()
        .map(|f| f.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn registration_answers_201_with_a_location() {
    let stack = Stack::start().await;
    let response = stack
        .request(1, Method::POST, "/v1/auth/register")
        .json(&json!({ "account": "Alice", "name": "Alice", "email": "Alice@Example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let user: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/v1/users/{}", user["id"]));
    assert_eq!(user["account"], "alice");
    assert_eq!(user["email"], "alice@example.com");
}

#[tokio::test]
async fn invalid_registrations_are_422_naming_every_bad_field() {
    let stack = Stack::start().await;
    let good = json!({ "account": "alice", "name": "Alice", "email": "alice@example.com", "password": PASSWORD });
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let cases = [
        (with("email", json!("not-an-email")), vec!["email"]),
        (with("password", json!("short")), vec!["password"]),
        (with("password", json!("password1234")), vec!["password"]),
        (with("password", json!("x".repeat(129))), vec!["password"]),
        (with("password", json!("alice")), vec!["password"]),
        (with("account", json!("a")), vec!["account"]),
        (with("account", json!("9lives")), vec!["account"]),
        (with("name", json!("   ")), vec!["name"]),
        (
            json!({ "account": "x", "name": "", "email": "nope", "password": "1" }),
            vec!["account", "email", "name", "password"],
        ),
        (with("email", json!(5)), vec!["email"]),
        (
            json!({ "account": "alice", "name": "Alice", "email": "alice@example.com" }),
            vec!["password"],
        ),
        (with("is_admin", json!(true)), vec!["is_admin"]),
    ];
    for (body, expected) in cases {
        let (status, response) = register(&stack, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {response}"
        );
        assert_eq!(error_code(&response), "validation_failed");
        assert_eq!(fields(&response), expected, "{body} → {response}");
    }
    assert_eq!(
        stack.login_via(0, "alice", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED,
        "nothing was created"
    );
}

#[tokio::test]
async fn malformed_bodies_are_400_and_wrong_content_types_415() {
    let stack = Stack::start().await;
    let response = stack
        .request(0, Method::POST, "/v1/auth/register")
        .header("content-type", "application/json")
        .body("{\"account\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        error_code(&response.json().await.unwrap()),
        "malformed_json"
    );

    let response = stack
        .request(0, Method::POST, "/v1/auth/login")
        .header("content-type", "text/plain")
        .body("account=alice")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    error_code(&response.json().await.unwrap());
}

#[tokio::test]
async fn a_taken_account_or_email_is_409_naming_the_field() {
    let stack = Stack::start().await;
    stack.register("alice").await;
    let cases = [
        (
            json!({ "account": "ALICE", "name": "A", "email": "other@example.com", "password": PASSWORD }),
            "account_taken",
            "account",
        ),
        (
            json!({ "account": "alice2", "name": "A", "email": "Alice@example.com", "password": PASSWORD }),
            "email_taken",
            "email",
        ),
    ];
    for (body, code, field) in cases {
        let (status, response) = register(&stack, body).await;
        assert_eq!(status, StatusCode::CONFLICT, "{response}");
        assert_eq!(error_code(&response), code);
        assert_eq!(response["error"]["details"]["field"], field);
    }
}

#[tokio::test]
async fn a_wrong_account_and_a_wrong_password_look_the_same() {
    let stack = Stack::start().await;
    stack.register("alice").await;
    let wrong_password = stack.login_via(0, "alice", "not the password!").await;
    let wrong_account = stack.login_via(0, "nobody", PASSWORD).await;
    assert_eq!(wrong_password.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password, wrong_account);
}

#[tokio::test]
async fn unknown_routes_versions_and_methods_get_json_errors() {
    let dead = shared::testing::REFUSING_URL.to_owned();
    let stack = Stack::start_with(StackOptions {
        extra_routes: vec![("/v1/trips/*".into(), dead)],
        ..Default::default()
    })
    .await;
    let alice = stack.sign_up_and_in("alice").await;
    let token = Some(alice.access_token.as_str());
    let cases = [
        (
            Method::GET,
            "/v1/nowhere",
            None,
            StatusCode::NOT_FOUND,
            "route_not_found",
        ),
        (
            Method::GET,
            "/v2/auth/me",
            token,
            StatusCode::NOT_FOUND,
            "route_not_found",
        ),
        (
            Method::GET,
            "/v1/auth/nowhere",
            None,
            StatusCode::NOT_FOUND,
            "route_not_found",
        ),
        (
            Method::GET,
            "/v1/auth/nowhere",
            token,
            StatusCode::NOT_FOUND,
            "route_not_found",
        ),
        (
            Method::DELETE,
            "/v1/auth/me",
            None,
            StatusCode::UNAUTHORIZED,
            "missing_token",
        ),
        (
            Method::DELETE,
            "/v1/auth/me",
            token,
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            Method::GET,
            "/v1/auth%2fme",
            token,
            StatusCode::BAD_REQUEST,
            "invalid_path",
        ),
        (
            Method::GET,
            "/v1/trips",
            None,
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_unavailable",
        ),
    ];
    for (method, path, token, status, code) in cases {
        let (got, body) = stack.call(1, method.clone(), path, token, None).await;
        assert_eq!(got, status, "{method} {path}: {body}");
        assert_eq!(error_code(&body), code, "{method} {path}");
    }
}

#[tokio::test]
async fn path_spellings_reach_the_same_route() {
    let stack = Stack::start().await;
    let alice = stack.sign_up_and_in("alice").await;
    for path in [
        "/v1/auth/me",
        "/V1/Auth/Me",
        "//v1/auth//me/",
        "/v1/trips/../auth/me",
        "/v1/%61uth/me",
    ] {
        assert_eq!(
            stack
                .call(0, Method::GET, path, Some(&alice.access_token), None)
                .await
                .0,
            StatusCode::OK,
            "{path}"
        );
    }
    for path in ["/v1/auth/login/../me", "/V1/AUTH/LOGIN/../ME"] {
        let (status, _) = stack.call(0, Method::GET, path, None, None).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{path} must not inherit login's public access"
        );
    }
}

#[tokio::test]
async fn a_client_that_accepts_no_json_gets_406() {
    let stack = Stack::start().await;
    let response = stack
        .request(0, Method::GET, "/v1/auth/jwks.json")
        .header("accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        error_code(&response.json().await.unwrap()),
        "not_acceptable"
    );
    let response = stack
        .request(0, Method::GET, "/v1/auth/jwks.json")
        .header("accept", "text/html, */*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_given_one_is_echoed() {
    let stack = Stack::start().await;
    let response = stack
        .request(0, Method::GET, "/v1/auth/me")
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-42");
    let response = stack
        .request(1, Method::POST, "/v1/auth/login")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(!response.headers()["x-request-id"].is_empty());
}
