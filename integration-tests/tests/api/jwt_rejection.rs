//! Every way of presenting a bad access token gets a 401 in the JSON error shape, and
//! none of them a 500. Each forgery names a live session, so only the token is at fault.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Stack, error_code, signing_key_pem};

fn segments(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let header = serde_json::from_slice(&B64.decode(parts.next().unwrap()).unwrap()).unwrap();
    let claims = serde_json::from_slice(&B64.decode(parts.next().unwrap()).unwrap()).unwrap();
    (header, claims)
}

fn sign(header: &Value, claims: &Value) -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = header["kid"].as_str().map(str::to_owned);
    h.typ = header["typ"].as_str().map(str::to_owned);
    let key = EncodingKey::from_rsa_pem(signing_key_pem().as_bytes()).unwrap();
    jsonwebtoken::encode(&h, claims, &key).unwrap()
}

fn unsigned(header: Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    )
}

fn with(claims: &Value, change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut claims = claims.clone();
    change(claims.as_object_mut().unwrap());
    claims
}

#[tokio::test]
async fn bad_access_tokens_are_401_and_never_500() {
    let stack = Stack::start().await;
    let alice = stack.sign_up_and_in("alice").await;
    let real = alice.access_token.clone();
    let (header, claims) = segments(&real);
    let now = jsonwebtoken::get_current_timestamp();

    // The forging works: the same claims, re-signed, are accepted.
    assert_eq!(stack.me(0, &sign(&header, &claims)).await, StatusCode::OK);

    let public_pem = {
        let jwks: Value = stack
            .http
            .get(format!("{}/v1/auth/jwks.json", stack.gw(0)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        jwks["keys"][0]["n"].as_str().unwrap().to_owned()
    };
    let hs256_with_public_key = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = header["kid"].as_str().map(str::to_owned);
        h.typ = Some("at+jwt".into());
        jsonwebtoken::encode(
            &h,
            &claims,
            &EncodingKey::from_secret(public_pem.as_bytes()),
        )
        .unwrap()
    };
    let (head, rest) = real.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut flipped = signature.as_bytes().to_vec();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let other_claims = B64.encode(
        with(&claims, |c| {
            c.insert("sub".into(), json!("999"));
        })
        .to_string(),
    );
    let refresh_as_access = alice.refresh_token.clone();

    let cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            unsigned(
                json!({ "alg": "none", "typ": "at+jwt", "kid": header["kid"] }),
                &claims,
            ),
        ),
        (
            "alg None",
            unsigned(
                json!({ "alg": "None", "typ": "at+jwt", "kid": header["kid"] }),
                &claims,
            ),
        ),
        ("HS256 keyed with our public key", hs256_with_public_key),
        ("signature stripped", format!("{head}.{payload}.")),
        (
            "signature truncated",
            format!("{head}.{payload}.{}", &signature[..signature.len() / 2]),
        ),
        (
            "signature altered",
            format!("{head}.{payload}.{}", String::from_utf8(flipped).unwrap()),
        ),
        (
            "claims altered",
            format!("{head}.{other_claims}.{signature}"),
        ),
        (
            "expired past leeway",
            sign(
                &header,
                &with(&claims, |c| {
                    c.insert("exp".into(), json!(now - 120));
                }),
            ),
        ),
        (
            "nbf in the future",
            sign(
                &header,
                &with(&claims, |c| {
                    c.insert("nbf".into(), json!(now + 600));
                }),
            ),
        ),
        (
            "exp as a string",
            sign(
                &header,
                &with(&claims, |c| {
                    c.insert("exp".into(), json!((now + 600).to_string()));
                }),
            ),
        ),
        (
            "nbf as a string",
            sign(
                &header,
                &with(&claims, |c| {
                    c.insert("nbf".into(), json!(now.to_string()));
                }),
            ),
        ),
        (
            "wrong iss",
            sign(
                &header,
                &with(&claims, |c| {
                    c.insert("iss".into(), json!("evil"));
                }),
            ),
        ),
        (
            "wrong aud",
            sign(
                &header,
                &with(&claims, |c| {
                    c.insert("aud".into(), json!("elsewhere"));
                }),
            ),
        ),
        (
            "missing aud",
            sign(
                &header,
                &with(&claims, |c| {
                    c.remove("aud");
                }),
            ),
        ),
        (
            "missing sub",
            sign(
                &header,
                &with(&claims, |c| {
                    c.remove("sub");
                }),
            ),
        ),
        (
            "missing nbf",
            sign(
                &header,
                &with(&claims, |c| {
                    c.remove("nbf");
                }),
            ),
        ),
        (
            "sub not a user id",
            sign(
                &header,
                &with(&claims, |c| {
                    c.insert("sub".into(), json!("admin"));
                }),
            ),
        ),
        (
            "another user's id on this session",
            sign(
                &header,
                &with(&claims, |c| {
                    c.insert("sub".into(), json!("999"));
                }),
            ),
        ),
        (
            "not an access token type",
            sign(
                &with(&header, |h| {
                    h.insert("typ".into(), json!("JWT"));
                }),
                &claims,
            ),
        ),
        (
            "unknown kid",
            sign(
                &with(&header, |h| {
                    h.insert("kid".into(), json!("not-our-key"));
                }),
                &claims,
            ),
        ),
        (
            "no kid",
            sign(
                &with(&header, |h| {
                    h.remove("kid");
                }),
                &claims,
            ),
        ),
        ("a refresh token", refresh_as_access),
        (
            "10 kB token",
            format!("{head}.{}.{signature}", "A".repeat(10_000)),
        ),
        (
            "malformed base64",
            format!("{head}.@@not-base64@@.{signature}"),
        ),
        ("five segments", format!("{real}.{payload}.{signature}")),
        ("empty", String::new()),
    ];

    for (case, token) in &cases {
        let response = stack
            .request(0, reqwest::Method::GET, "/v1/auth/me")
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let www = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        assert!(www.is_some_and(|w| w.starts_with("Bearer")), "{case}");
        error_code(&body);
    }
    assert_eq!(
        stack.me(1, &real).await,
        StatusCode::OK,
        "the genuine token still works"
    );
}

#[tokio::test]
async fn other_authorization_schemes_and_missing_headers_are_401() {
    let stack = Stack::start().await;
    let alice = stack.sign_up_and_in("alice").await;
    for value in [
        format!("Basic {}", alice.access_token),
        "Bearer".to_string(),
        "Bearer  ".to_string(),
        alice.access_token.clone(),
    ] {
        let response = stack
            .request(0, reqwest::Method::GET, "/v1/auth/me")
            .header("authorization", value.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{value}");
    }
    let (status, body) = stack
        .call(0, reqwest::Method::GET, "/v1/auth/me", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "missing_token");
}
