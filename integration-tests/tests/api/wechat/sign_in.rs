use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{World, WorldOptions, handoff_code};
use crate::helpers::{Stack, error_code};

#[tokio::test]
async fn a_first_wechat_sign_in_creates_a_traveller_and_a_later_one_finds_them() {
    let world = World::start().await;
    let mut browser = world.browser();
    let qr = browser.start_sign_in(Some("/trips?page=2")).await;
    let cookie = browser.last_set_cookie.join("\n");
    for attribute in [
        "wp_wechat=",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/v1/auth/oauth/wechat",
        "Max-Age=600",
    ] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(!cookie.contains("Secure"), "plain http here: {cookie}");
    assert!(qr.ends_with("#wechat_redirect"), "{qr}");

    let callback = browser.scan(&qr, "lily", true).await;
    let reply = browser.get(&callback).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    let code = handoff_code(&reply.location.unwrap(), "/trips?page=2");
    let handoff_key = format!(
        "{}wechat:handoff:{code}",
        world.stack.redis_settings.key_prefix
    );
    let ttl: i64 = shared::testing::RedisServer::shared()
        .command(&["PTTL", &handoff_key])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert!((1..=60_000).contains(&ttl), "the code lives 60 s: {ttl}");

    let tokens = browser.exchange(&code).await;
    let me = browser.me(&tokens).await;
    let account = me["account"].as_str().unwrap();
    assert!(account.starts_with("wx_"), "{account}");
    assert_eq!(me["name"], "lily 的微信");
    assert_eq!(me["email"], json!(null));
    let user_id = me["id"].as_i64().unwrap();
    let roles = world
        .stack
        .admin(
            Method::GET,
            &format!("/v1/users/{user_id}/roles"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(roles["results"][0]["name"], "traveller", "{roles}");
    for gateway in [0, 1] {
        assert_eq!(
            world.stack.me(gateway, &tokens.access_token).await,
            StatusCode::OK
        );
    }

    let again = browser
        .call(
            Method::POST,
            "/v1/auth/oauth/wechat/exchange",
            None,
            Some(json!({ "code": code })),
        )
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&again.body), "invalid_exchange_code");

    let later = world.sign_in("lily").await;
    let me_later = world.browser().me(&later).await;
    assert_eq!(me_later["id"], user_id, "the same person, the same user");
    assert_eq!(world.user_count().await, 2, "lily and the admin");
    let (status, refreshed) = world
        .stack
        .call(
            1,
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": later.refresh_token })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "an ordinary session: {refreshed}");
}

#[tokio::test]
async fn without_a_unionid_accounts_are_keyed_by_openid_within_the_app() {
    let world = World::start_with(WorldOptions {
        with_unionid: false,
        ..Default::default()
    })
    .await;
    let first = world.sign_in("mei").await;
    let second = world.sign_in("mei").await;
    let other = world.sign_in("jun").await;
    let id = |me: serde_json::Value| me["id"].as_i64().unwrap();
    let mut browser = world.browser();
    let (a, b, c) = (
        id(browser.me(&first).await),
        id(browser.me(&second).await),
        id(browser.me(&other).await),
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[tokio::test]
async fn exchange_codes_are_refused_when_unknown_or_malformed() {
    let world = World::start().await;
    let mut browser = world.browser();
    for code in [
        json!("0".repeat(64)),
        json!("not-a-code"),
        json!(""),
        json!("A".repeat(64)),
    ] {
        let reply = browser
            .call(
                Method::POST,
                "/v1/auth/oauth/wechat/exchange",
                None,
                Some(json!({ "code": code })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{code}");
        assert_eq!(error_code(&reply.body), "invalid_exchange_code");
    }
    let reply = browser
        .call(
            Method::POST,
            "/v1/auth/oauth/wechat/exchange",
            None,
            Some(json!({ "code": "x", "extra": 1 })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn denying_access_in_wechat_gets_a_clear_answer_and_no_account() {
    let world = World::start().await;
    let mut browser = world.browser();
    let qr = browser.start_sign_in(None).await;
    let callback = browser.scan(&qr, "lily", false).await;
    assert!(!callback.contains("code="), "{callback}");
    let reply = browser.get(&callback).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&reply.body), "wechat_access_denied");
    assert_eq!(world.user_count().await, 1);
}

#[tokio::test]
async fn a_disabled_linked_user_cannot_sign_in_with_wechat() {
    let world = World::start().await;
    let tokens = world.sign_in("lily").await;
    let user_id = world.browser().me(&tokens).await["id"].as_i64().unwrap();
    world
        .stack
        .admin(
            Method::PATCH,
            &format!("/v1/users/{user_id}"),
            Some(json!({ "is_disabled": true })),
            StatusCode::OK,
        )
        .await;

    let mut browser = world.browser();
    let qr = browser.start_sign_in(None).await;
    let callback = browser.scan(&qr, "lily", true).await;
    let reply = browser.get(&callback).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&reply.body), "account_disabled");
    assert_eq!(reply.location, None, "no session, no code");
    assert_eq!(
        world.stack.me(0, &tokens.access_token).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn return_to_accepts_only_paths_on_this_site() {
    let world = World::start().await;
    let mut browser = world.browser();
    // As the service receives them (the client encodes each once).
    let refused = [
        "//evil.com",
        "///evil.com",
        "https://evil.com",
        "http:evil.com",
        "/\\evil.com",
        "\\/evil.com",
        "%2f%2fevil.com",
        "/%2f%2fevil.com",
        "/%5cevil.com",
        "/..//evil.com",
        "/%2e%2e//evil.com",
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        " //evil.com",
        "/\t/evil.com",
        "/%09/evil.com",
        "/trips\r\nSet-Cookie: a=b",
        "/trips#wechat_code=planted",
        "",
    ];
    for return_to in refused {
        let path = format!(
            "/v1/auth/oauth/wechat/authorize?{}",
            serde_urlencoded::to_string([("return_to", return_to)]).unwrap()
        );
        let reply = browser.get(&path).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{return_to:?}");
        assert_eq!(
            error_code(&reply.body),
            "invalid_return_to",
            "{return_to:?}"
        );
        assert_eq!(reply.body["error"]["details"]["parameter"], "return_to");
        assert_eq!(reply.location, None);
    }
    // Raw query strings, as an attacker would write them into a link.
    for raw in [
        "return_to=%2f%2fevil.com",
        "return_to=%2F%2Fevil.com",
        "return_to=https%3A%2F%2Fevil.com",
        "return_to=%5C%5Cevil.com",
        "return_to=/%2f%2fevil.com",
    ] {
        let reply = browser
            .get(&format!("/v1/auth/oauth/wechat/authorize?{raw}"))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{raw}");
        assert_eq!(error_code(&reply.body), "invalid_return_to");
    }

    let qr = browser.start_sign_in(Some("/trips/42?tab=reviews")).await;
    let callback = browser.scan(&qr, "lily", true).await;
    let reply = browser.get(&callback).await;
    handoff_code(&reply.location.unwrap(), "/trips/42?tab=reviews");
    let qr = browser.start_sign_in(None).await;
    let callback = browser.scan(&qr, "lily", true).await;
    let reply = browser.get(&callback).await;
    handoff_code(&reply.location.unwrap(), "/");
}

#[tokio::test]
async fn without_an_appid_the_wechat_routes_answer_501() {
    let stack = Stack::start().await;
    let alice = stack.sign_up_and_in("alice").await;
    for (method, path, token) in [
        (Method::GET, "/v1/auth/oauth/wechat/authorize", None),
        (
            Method::GET,
            "/v1/auth/oauth/wechat/callback?code=a&state=b",
            None,
        ),
        (
            Method::POST,
            "/v1/auth/oauth/wechat/link",
            Some(&alice.access_token),
        ),
    ] {
        let (status, body) = stack
            .call(0, method.clone(), path, token.map(|t| t.as_str()), None)
            .await;
        assert_eq!(
            status,
            StatusCode::NOT_IMPLEMENTED,
            "{method} {path}: {body}"
        );
        assert_eq!(error_code(&body), "wechat_not_configured");
    }
    let (status, body) = stack
        .call(
            0,
            Method::POST,
            "/v1/auth/oauth/wechat/exchange",
            None,
            Some(json!({ "code": "0".repeat(64) })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(error_code(&body), "wechat_not_configured");
}
