//! The OAuth `state`: random, single use, ten minutes, bound to the browser that started.

use std::time::Duration;

use reqwest::StatusCode;
use shared::testing::RedisServer;

use super::{CALLBACK_PATH, World, handoff_code, state_of};
use crate::helpers::error_code;

fn redis(args: &[&str]) -> String {
    RedisServer::shared().command(args)
}

#[tokio::test]
async fn a_callback_without_a_state_is_refused() {
    let world = World::start().await;
    let mut browser = world.browser();
    let qr = browser.start_sign_in(None).await;
    let callback = browser.scan(&qr, "lily", true).await;
    let without_state = callback.split("&state=").next().unwrap().to_owned();
    for url in [
        without_state,
        format!("{}{CALLBACK_PATH}", browser.base),
        format!("{}{CALLBACK_PATH}?state=", browser.base),
    ] {
        let reply = browser.get(&url).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{url}");
        assert_eq!(error_code(&reply.body), "wechat_state_missing");
    }
    assert_eq!(world.user_count().await, 1, "no account was created");
}

#[tokio::test]
async fn a_state_is_random_and_works_only_once() {
    let world = World::start().await;
    let mut browser = world.browser();
    let qr = browser.start_sign_in(None).await;
    let state = state_of(&qr);
    assert_eq!(state.len(), 64, "256 random bits: {state}");
    assert_ne!(state, state_of(&browser.start_sign_in(None).await));

    let callback = browser.scan(&qr, "lily", true).await;
    let first = browser.get(&callback).await;
    handoff_code(&first.location.unwrap(), "/");
    let replay = browser.get(&callback).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&replay.body), "wechat_state_invalid");
    assert_eq!(replay.location, None);

    let forged = callback.replace(&state, &"ab".repeat(32));
    let reply = browser.get(&forged).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&reply.body), "wechat_state_invalid");
}

#[tokio::test]
async fn a_state_expires_after_ten_minutes() {
    let world = World::start().await;
    let mut browser = world.browser();
    let qr = browser.start_sign_in(None).await;
    let key = world.state_key(&state_of(&qr));
    let ttl: i64 = redis(&["PTTL", &key])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert!(
        (590_000..=600_000).contains(&ttl),
        "ten minutes, as Redis keeps it: {ttl} ms"
    );
    let callback = browser.scan(&qr, "lily", true).await;
    // Let Redis expire it now rather than in ten minutes.
    redis(&["PEXPIRE", &key, "1"]);
    world
        .stack
        .eventually(Duration::from_secs(5), "the state expired", || async {
            redis(&["EXISTS", &key]).starts_with(":0")
        })
        .await;
    let reply = browser.get(&callback).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&reply.body), "wechat_state_invalid");
    assert_eq!(world.user_count().await, 1);
}

#[tokio::test]
async fn a_callback_in_another_browser_is_refused_and_burns_the_state() {
    let world = World::start().await;
    let mut victim = world.browser();
    let mut attacker = world.browser();
    // The attacker starts a sign-in, scans with their own WeChat and plants the callback
    // on the victim (login CSRF): the victim's browser lacks the attacker's cookie.
    let qr = attacker.start_sign_in(None).await;
    let planted = attacker.scan(&qr, "mallory", true).await;
    let reply = victim.get(&planted).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&reply.body), "wechat_state_mismatch");
    assert_eq!(reply.location, None);
    // A victim with a flow of their own (their own cookie) fares no differently.
    victim.start_sign_in(None).await;
    let qr = attacker.start_sign_in(None).await;
    let planted = attacker.scan(&qr, "mallory", true).await;
    let reply = victim.get(&planted).await;
    assert_eq!(error_code(&reply.body), "wechat_state_mismatch");
    // The refused state is spent, even for the browser that started it.
    let reply = attacker.get(&planted).await;
    assert_eq!(error_code(&reply.body), "wechat_state_invalid");
    assert_eq!(world.user_count().await, 1, "no account was created");
}

#[tokio::test]
async fn two_sign_ins_started_in_two_tabs_both_finish() {
    let world = World::start().await;
    let mut browser = world.browser();
    let first = browser.start_sign_in(Some("/a")).await;
    let second = browser.start_sign_in(Some("/b")).await;
    let second_callback = browser.scan(&second, "lily", true).await;
    let first_callback = browser.scan(&first, "lily", true).await;
    let reply = browser.get(&second_callback).await;
    handoff_code(&reply.location.unwrap(), "/b");
    let reply = browser.get(&first_callback).await;
    handoff_code(&reply.location.unwrap(), "/a");
}
