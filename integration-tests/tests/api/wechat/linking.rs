//! Linking WeChat to an account that has a password, and unlinking it.

use reqwest::{Method, StatusCode};

use super::{Browser, Tokens, World};
use crate::helpers::{PASSWORD, error_code};

const LINK: &str = "/v1/auth/oauth/wechat/link";

/// `POST …/link` as the signed-in `token`; the QR page URL.
async fn start_link(browser: &mut Browser, token: &str, return_to: &str) -> String {
    let path = format!(
        "{LINK}?{}",
        serde_urlencoded::to_string([("return_to", return_to)]).unwrap()
    );
    let reply = browser.call(Method::POST, &path, Some(token), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        browser
            .last_set_cookie
            .iter()
            .any(|c| c.contains("HttpOnly")),
        "the state is bound to this browser"
    );
    reply.body["url"].as_str().unwrap().to_owned()
}

async fn password_session(world: &World, account: &str) -> Tokens {
    let session = world.stack.sign_up_and_in(account).await;
    Tokens {
        access_token: session.access_token,
        refresh_token: session.refresh_token,
    }
}

#[tokio::test]
async fn a_user_links_wechat_signs_in_with_it_and_unlinks_it() {
    let world = World::start().await;
    let alice = password_session(&world, "alice").await;
    let mut browser = world.browser();
    let alice_id = browser.me(&alice).await["id"].as_i64().unwrap();

    let qr = start_link(&mut browser, &alice.access_token, "/settings").await;
    let callback = browser.scan(&qr, "alice-wx", true).await;
    let reply = browser.get(&callback).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    assert_eq!(reply.location.as_deref(), Some("/settings#wechat_linked=1"));

    let via_wechat = world.sign_in("alice-wx").await;
    let me = browser.me(&via_wechat).await;
    assert_eq!(me["id"], alice_id);
    assert_eq!(me["account"], "alice");
    assert_eq!(world.user_count().await, 2, "no new account");

    // Linking the same WeChat account again changes nothing.
    let qr = start_link(&mut browser, &alice.access_token, "/").await;
    let callback = browser.scan(&qr, "alice-wx", true).await;
    assert_eq!(
        browser.get(&callback).await.location.as_deref(),
        Some("/#wechat_linked=1")
    );

    let reply = browser
        .call(Method::DELETE, LINK, Some(&alice.access_token), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let again = browser
        .call(Method::DELETE, LINK, Some(&alice.access_token), None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&again.body), "not_found");
    let (status, _) = world.stack.login_via(0, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "the password still works");

    let stranger = world.sign_in("alice-wx").await;
    assert_ne!(
        browser.me(&stranger).await["id"],
        alice_id,
        "once unlinked, WeChat sign-in makes a new account"
    );
}

#[tokio::test]
async fn linking_is_refused_when_either_side_is_linked_elsewhere() {
    let world = World::start().await;
    world.sign_in("bob-wx").await;
    let alice = password_session(&world, "alice").await;
    let mut browser = world.browser();

    let qr = start_link(&mut browser, &alice.access_token, "/").await;
    let callback = browser.scan(&qr, "bob-wx", true).await;
    let reply = browser.get(&callback).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(error_code(&reply.body), "wechat_already_linked");

    let qr = start_link(&mut browser, &alice.access_token, "/").await;
    let callback = browser.scan(&qr, "alice-wx", true).await;
    assert_eq!(browser.get(&callback).await.status, StatusCode::FOUND);
    let qr = start_link(&mut browser, &alice.access_token, "/").await;
    let callback = browser.scan(&qr, "alice-second-wx", true).await;
    let reply = browser.get(&callback).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(error_code(&reply.body), "wechat_link_exists");
}

#[tokio::test]
async fn an_account_made_by_wechat_cannot_unlink_its_only_way_in() {
    let world = World::start().await;
    let tokens = world.sign_in("lily").await;
    let mut browser = world.browser();
    let reply = browser
        .call(Method::DELETE, LINK, Some(&tokens.access_token), None)
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(error_code(&reply.body), "password_required");
    let me = browser.me(&world.sign_in("lily").await).await;
    assert_eq!(me["id"], browser.me(&tokens).await["id"], "still linked");
}

#[tokio::test]
async fn a_link_flow_is_bound_to_the_browser_and_to_a_live_session() {
    let world = World::start().await;
    let alice = password_session(&world, "alice").await;
    let mut browser = world.browser();

    let reply = browser.call(Method::POST, LINK, None, None).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "signed-in users only"
    );
    let reply = browser
        .call(
            Method::POST,
            &format!("{LINK}?return_to=//evil.com"),
            Some(&alice.access_token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&reply.body), "invalid_return_to");

    // Planted in another browser: refused, nothing linked.
    let qr = start_link(&mut browser, &alice.access_token, "/").await;
    let callback = browser.scan(&qr, "mallory-wx", true).await;
    let reply = world.browser().get(&callback).await;
    assert_eq!(error_code(&reply.body), "wechat_state_mismatch");

    // Signed out before WeChat answered: refused, nothing linked.
    let qr = start_link(&mut browser, &alice.access_token, "/").await;
    let callback = browser.scan(&qr, "alice-wx", true).await;
    let reply = browser
        .call(
            Method::POST,
            "/v1/auth/logout",
            Some(&alice.access_token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = browser.get(&callback).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&reply.body), "session_ended");

    let created = world.sign_in("alice-wx").await;
    assert_eq!(
        browser.me(&created).await["account"]
            .as_str()
            .unwrap()
            .get(..3),
        Some("wx_"),
        "alice-wx was never linked to alice"
    );
}
