//! Stands in for the gateway in front of payment-service: Alipay's notifications and the
//! buyer's return reach the service through it, so they carry the internal token without
//! which no service answers.

use std::net::TcpListener;

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// Forwards every request on `listener` to `upstream`, adding the internal token.
pub fn start(listener: TcpListener, upstream: String, token: String) {
    let client = reqwest::Client::new();
    let server = HttpServer::new(move || {
        let forward = Forward {
            client: client.clone(),
            upstream: upstream.clone(),
            token: token.clone(),
        };
        App::new()
            .app_data(web::Data::new(forward))
            .default_service(web::to(forward_one))
    })
    .workers(1)
    .listen(listener)
    .expect("the gateway stand-in listens")
    .run();
    tokio::spawn(server);
}

struct Forward {
    client: reqwest::Client,
    upstream: String,
    token: String,
}

async fn forward_one(req: HttpRequest, body: web::Bytes, to: web::Data<Forward>) -> HttpResponse {
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
    let mut request = to
        .client
        .request(method, format!("{}{}", to.upstream, req.uri()))
        .header("x-waypoint-internal", &to.token)
        .body(body);
    for (name, value) in req.headers() {
        if name != "host" && name != "content-length" {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let response = request.send().await.expect("payment-service answers");
    let mut answer = HttpResponse::build(StatusCode::from_u16(response.status().as_u16()).unwrap());
    for (name, value) in response.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            answer.append_header((name.as_str(), value.as_bytes()));
        }
    }
    answer.body(response.bytes().await.unwrap_or_default())
}
