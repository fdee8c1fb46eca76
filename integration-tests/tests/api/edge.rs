//! nginx at the edge, in front of real gateways: what it answers itself under `/v1` is the
//! API's JSON error shape, and anything shaped like an API path reaches a gateway (never
//! the web UI).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use shared::testing::REFUSING_URL;

use crate::helpers::{Nginx, Stack, error_code, raw_exchange};

/// The head of a raw response, and its body as JSON (panics if it is not JSON).
fn split_json(response: &str) -> (String, Value) {
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head/body in {response:?}"));
    let body = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {response}"));
    (head.to_ascii_lowercase(), body)
}

/// Sends `request` raw and asserts nginx's answer: `status`, JSON, the error `code`.
async fn assert_json_error(base: &str, request: &[u8], status: u16, code: &str) -> String {
    let (got, response) = raw_exchange(base, request).await;
    let what = String::from_utf8_lossy(&request[..request.len().min(60)]).into_owned();
    assert_eq!(got, status, "{what}: {response}");
    let (head, body) = split_json(&response);
    assert!(
        head.contains("content-type: application/json"),
        "{what}: {head}"
    );
    assert_eq!(error_code(&body), code, "{what}: {body}");
    head
}

/// Sends `request`; its status, headers and error code (asserting the JSON error shape).
async fn send_for_error(request: reqwest::RequestBuilder) -> (StatusCode, HeaderMap, String) {
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body: Value = response.json().await.unwrap();
    (status, headers, error_code(&body).to_owned())
}

#[tokio::test]
async fn what_nginx_refuses_itself_under_v1_is_a_json_error() {
    let stack = Stack::start().await;
    let nginx = Nginx::start(&[stack.gw(0), stack.gw(1)]);
    let base = nginx.base.as_str();

    let malformed = b"G@T /v1/trips HTTP/1.1\r\nHost: waypoint\r\n\r\n";
    assert_json_error(base, malformed, 400, "bad_request").await;

    // Longer than one of large_client_header_buffers (8 KiB).
    let big_header = format!(
        "GET /v1/trips HTTP/1.1\r\nHost: waypoint\r\nX-Big: {}\r\n\r\n",
        "a".repeat(9000)
    );
    assert_json_error(base, big_header.as_bytes(), 431, "headers_too_large").await;

    let long_uri = format!(
        "GET /v1/trips?q={} HTTP/1.1\r\nHost: waypoint\r\n\r\n",
        "a".repeat(9000)
    );
    assert_json_error(base, long_uri.as_bytes(), 414, "uri_too_long").await;

    // Above client_max_body_size (2 MiB): refused on the announced length alone.
    let too_large = b"POST /v1/auth/register HTTP/1.1\r\nHost: waypoint\r\n\
        Content-Type: application/json\r\nContent-Length: 3000000\r\n\r\n";
    assert_json_error(base, too_large, 413, "payload_too_large").await;

    let trace = b"TRACE /v1/trips HTTP/1.1\r\nHost: waypoint\r\n\r\n";
    assert_json_error(base, trace, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn anything_shaped_like_an_api_path_reaches_a_gateway_not_the_web_ui() {
    let stack = Stack::start().await;
    let nginx = Nginx::start(&[stack.gw(0), stack.gw(1)]);
    // The gateway's answer to each spelling (codes only it uses: its path
    // canonicalisation and routing), not the web UI's index page with a 200.
    for (path, status, code) in [
        ("/v1;/users", 404, "route_not_found"),
        ("/v1\\users", 400, "invalid_path"),
        ("/v1%5Cusers", 400, "invalid_path"),
        ("/v1%5cusers", 400, "invalid_path"),
        ("/v1", 404, "route_not_found"),
        ("/V1;", 404, "route_not_found"),
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: waypoint\r\nConnection: close\r\n\r\n");
        assert_json_error(&nginx.base, request.as_bytes(), status, code).await;
    }
    // The web UI still has every other path.
    let (status, page) = raw_exchange(
        &nginx.base,
        b"GET /trips/7 HTTP/1.1\r\nHost: waypoint\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.to_ascii_lowercase().contains("<html"), "{page}");
}

#[tokio::test]
async fn with_every_gateway_down_nginx_answers_json_503() {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    // Refused connections: what the gateway itself answers when a service is down.
    let refused = Nginx::start(&[REFUSING_URL, "http://127.0.0.1:2"]);
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let (status, headers, code) =
            send_for_error(http.request(method.clone(), format!("{}/v1/trips", refused.base)))
                .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{method}");
        assert_eq!(headers["retry-after"], "1", "{method}");
        assert_eq!(headers["content-type"], "application/json", "{method}");
        assert_eq!(code, "upstream_unavailable", "{method}");
    }
}
