//! WeChat refusing the code, failing, hanging or gone: clear errors, never a session.

use std::time::Duration;

use fake_wechat::Mode;
use reqwest::StatusCode;

use super::{Browser, World, WorldOptions, state_of};
use crate::helpers::error_code;

/// A callback URL whose state is fresh in `browser` but whose code is `code`.
async fn callback_with_code(browser: &mut Browser, code: &str) -> String {
    let qr = browser.start_sign_in(None).await;
    let state = state_of(&qr);
    format!(
        "{}{}?code={code}&state={state}",
        browser.base,
        super::CALLBACK_PATH
    )
}

fn code_of(callback: &str) -> String {
    callback
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_invalid_code_is_a_401_from_wechat_40029() {
    let world = World::start().await;
    let mut browser = world.browser();
    let callback = callback_with_code(&mut browser, "made-up-code").await;
    let reply = browser.get(&callback).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&reply.body), "wechat_code_invalid");
    assert_eq!(reply.location, None);
    assert_eq!(world.user_count().await, 1);
}

#[tokio::test]
async fn a_reused_code_is_a_401_from_wechat_40163() {
    let world = World::start().await;
    let mut browser = world.browser();
    let qr = browser.start_sign_in(None).await;
    let callback = browser.scan(&qr, "lily", true).await;
    let reply = browser.get(&callback).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    // The same WeChat code again, under a fresh state of the same browser.
    let replayed = callback_with_code(&mut browser, &code_of(&callback)).await;
    let reply = browser.get(&replayed).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&reply.body), "wechat_code_used");
}

#[tokio::test]
async fn wechat_failing_slow_or_down_is_a_502_or_504_and_no_session() {
    let world = World::start_with(WorldOptions {
        timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let mut browser = world.browser();
    let mut scanned = Vec::new();
    for _ in 0..3 {
        let qr = browser.start_sign_in(None).await;
        scanned.push(browser.scan(&qr, "lily", true).await);
    }

    world.fake.set_mode(Mode::Fail(-1));
    let reply = browser.get(&scanned[0]).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.body);
    assert_eq!(error_code(&reply.body), "wechat_error");

    world.fake.set_mode(Mode::Hang);
    let reply = browser.get(&scanned[1]).await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT, "{}", reply.body);
    assert_eq!(error_code(&reply.body), "wechat_timeout");

    world.fake.stop().await;
    let reply = browser.get(&scanned[2]).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.body);
    assert_eq!(error_code(&reply.body), "wechat_unavailable");
    assert!(
        !reply
            .body
            .to_string()
            .contains(&world.fake.settings().secret),
        "the app secret never reaches a response"
    );
    assert_eq!(world.user_count().await, 1, "no account was created");
}

#[tokio::test]
async fn a_wrong_app_secret_is_a_502_that_shows_no_secret() {
    let world = World::start_with(WorldOptions {
        secret: Some("not-the-secret-4f1d".into()),
        ..Default::default()
    })
    .await;
    let mut browser = world.browser();
    let qr = browser.start_sign_in(None).await;
    let callback = browser.scan(&qr, "lily", true).await;
    let reply = browser.get(&callback).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "WeChat says 40125");
    assert_eq!(error_code(&reply.body), "wechat_error");
    let shown = reply.body.to_string();
    assert!(
        !shown.contains("not-the-secret") && !shown.contains("40125"),
        "{shown}"
    );
}
