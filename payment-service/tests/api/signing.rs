//! RSA2 against vectors made independently with openssl
//! (`fixtures/alipay/make_vectors.py`).

use std::time::Duration;

use payment_service::alipay::sign::{REQUEST_UNSIGNED, signing_string};
use payment_service::alipay::{
    AlipayClient, AlipayConfig, AlipayError, Amount, AppPrivateKey, Channel, Params, PublicKey,
    TradeOrder, TradeStatus,
};
use serde_json::Value;

use crate::helpers::{APP_ID, SELLER_ID, fixture};

fn vectors() -> Value {
    serde_json::from_str(&fixture("vectors.json")).unwrap()
}

fn pairs(params: &Value) -> Vec<(String, String)> {
    params
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

fn client(app_key: &str) -> AlipayClient {
    AlipayClient::new(
        AlipayConfig {
            app_id: APP_ID.into(),
            seller_id: SELLER_ID.into(),
            app_private_key: AppPrivateKey::from_pem(&fixture(app_key)).unwrap(),
            alipay_public_key: PublicKey::from_pem(&fixture("alipay_public.pem")).unwrap(),
            gateway_url: "https://openapi-sandbox.dl.alipaydev.com/gateway.do".into(),
            notify_url: "https://waypoint.example/v1/payments/alipay/notify".into(),
            return_url: "https://waypoint.example/v1/payments/alipay/return".into(),
            timeout: Duration::from_secs(1),
        },
        reqwest::Client::new(),
    )
}

#[test]
fn the_request_vector_gives_the_expected_signing_string_and_signature_with_pkcs1_and_pkcs8_keys() {
    let vector = &vectors()["request_page_pay"];
    let params = pairs(&vector["params"]);
    let text = signing_string(
        params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        REQUEST_UNSIGNED,
    );
    assert_eq!(text, vector["signing_string"].as_str().unwrap());
    for key in ["app_private_pkcs8.pem", "app_private_pkcs1.pem"] {
        let signature = AppPrivateKey::from_pem(&fixture(key))
            .unwrap()
            .sign(text.as_bytes())
            .unwrap();
        assert_eq!(signature, vector["sign"].as_str().unwrap(), "{key}");
    }
    let app_public = PublicKey::from_pem(&fixture("app_public.pem")).unwrap();
    assert!(app_public.verify(text.as_bytes(), vector["sign"].as_str().unwrap()));
}

#[test]
fn a_pay_url_carries_a_signature_that_verifies_with_the_app_public_key() {
    for channel in [Channel::Page, Channel::Wap] {
        let url = client("app_private_pkcs8.pem")
            .pay_url(
                &TradeOrder {
                    out_trade_no: "WP20261126000001",
                    total_amount: Amount::parse("1776.00").unwrap(),
                    subject: "丽江古城三日游 ×2",
                    time_expire: None,
                },
                channel,
                chrono::Utc::now(),
            )
            .unwrap();
        let query = url.split_once('?').unwrap().1;
        let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
        let get = |k: &str| params.iter().find(|(key, _)| key == k).unwrap().1.clone();
        assert_eq!(get("sign_type"), "RSA2");
        assert_eq!(get("charset"), "utf-8");
        assert_eq!(get("format"), "JSON");
        assert_eq!(get("version"), "1.0");
        let biz: Value = serde_json::from_str(&get("biz_content")).unwrap();
        assert_eq!(biz["total_amount"], "1776.00");
        assert_eq!(
            biz["product_code"],
            if channel == Channel::Page {
                "FAST_INSTANT_TRADE_PAY"
            } else {
                "QUICK_WAP_PAY"
            }
        );
        assert!(!get("biz_content").contains(": "), "compact JSON");
        // The independent recipe: all but sign, sorted, joined over raw values.
        let mut unsigned: Vec<&(String, String)> =
            params.iter().filter(|(k, _)| k != "sign").collect();
        unsigned.sort();
        let text: Vec<String> = unsigned.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let app_public = PublicKey::from_pem(&fixture("app_public.pem")).unwrap();
        assert!(app_public.verify(text.join("&").as_bytes(), &get("sign")));
    }
}

#[test]
fn the_notification_vector_verifies_and_the_tampered_one_does_not() {
    let vectors = vectors();
    let alipay = client("app_private_pkcs1.pem");
    let good = vectors["notify_trade_success"]["form_body"]
        .as_str()
        .unwrap();
    let notification = alipay.verify_notification(good.as_bytes()).unwrap();
    assert_eq!(notification.out_trade_no, "WP20261126000001");
    assert_eq!(notification.total_amount.cents(), 177_600);
    assert_eq!(notification.trade_status, TradeStatus::TradeSuccess);

    let tampered = vectors["notify_tampered_amount"]["form_body"]
        .as_str()
        .unwrap();
    let err = alipay.verify_notification(tampered.as_bytes()).unwrap_err();
    assert_eq!(err.code(), "bad_signature");

    // The signing string our side computes is the vector's.
    let params = Params::parse(good.as_bytes()).unwrap();
    assert!(
        params
            .verify(&PublicKey::from_pem(&fixture("alipay_public.pem")).unwrap())
            .is_ok()
    );
    let expected = vectors["notify_trade_success"]["signing_string"]
        .as_str()
        .unwrap();
    let raw = pairs(&vectors["notify_trade_success"]["params"]);
    let ours = signing_string(
        raw.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        payment_service::alipay::sign::NOTIFY_UNSIGNED,
    );
    assert_eq!(ours, expected);
}

#[test]
fn the_query_response_vector_verifies_over_its_raw_text_and_a_changed_one_does_not() {
    let vector = &vectors()["response_trade_query"];
    let body = vector["body"].as_str().unwrap();
    let alipay = client("app_private_pkcs8.pem");
    let answer = alipay.verified_answer("alipay.trade.query", body).unwrap();
    assert_eq!(answer["trade_status"], "TRADE_SUCCESS");

    let changed = body.replace("\"total_amount\":\"1776.00\"", "\"total_amount\":\"1.00\"");
    assert!(matches!(
        alipay.verified_answer("alipay.trade.query", &changed),
        Err(AlipayError::BadSignature)
    ));
    let unsigned = body.split(",\"sign\"").next().unwrap().to_owned() + "}";
    assert!(matches!(
        alipay.verified_answer("alipay.trade.query", &unsigned),
        Err(AlipayError::BadSignature)
    ));
}

#[test]
fn keys_are_read_as_pem_or_bare_base64_and_junk_is_refused() {
    let pem = fixture("alipay_public.pem");
    let bare: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(PublicKey::from_pem(&bare).is_ok());
    assert!(PublicKey::from_pem("not a key").is_err());
    assert!(
        AppPrivateKey::from_pem(&pem).is_err(),
        "a public key cannot sign"
    );
    assert!(
        AppPrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
            .is_err()
    );
}
