//! A tiny recommend-service speaking the internal contract: `GET /internal/trips/{id}`
//! and `POST /internal/signals` (idempotent on kind + reference), both behind the
//! internal token.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

pub const TRIP: i64 = 7;
pub const TRIP_PRICE: i64 = 88_800;
pub const CHEAP_TRIP: i64 = 8;
pub const OFF_SALE_TRIP: i64 = 9;

#[derive(Default)]
struct State {
    token: String,
    trips: HashMap<i64, Value>,
    /// Accepted signals, one per (kind, reference).
    signals: Mutex<Vec<Value>>,
    deliveries: AtomicU32,
    fail_next: AtomicU32,
    /// The `traceparent` of every trip lookup.
    traceparents: Mutex<Vec<Option<String>>>,
}

#[derive(Clone)]
pub struct FakeRecommend {
    pub url: String,
    state: Arc<State>,
}

impl FakeRecommend {
    pub fn start(token: &str) -> Self {
        let trip = |id: i64, title: &str, price: i64, status: &str| {
            (
                id,
                json!({"id": id, "title": title, "destination": "Lijiang", "price_cents": price, "status": status}),
            )
        };
        let state = Arc::new(State {
            token: token.to_owned(),
            trips: HashMap::from([
                trip(TRIP, "丽江古城三日游", TRIP_PRICE, "on_sale"),
                trip(CHEAP_TRIP, "Tea tasting", 10, "on_sale"),
                trip(OFF_SALE_TRIP, "Winter on Yulong", 120_000, "off_sale"),
            ]),
            ..State::default()
        });
        let data = web::Data::from(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/internal/trips/{id}", web::get().to(trip_handler))
                .route("/internal/signals", web::post().to(signal_handler))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    /// The next `n` signal deliveries answer 503.
    pub fn fail_next_signals(&self, n: u32) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    pub fn signals(&self) -> Vec<Value> {
        self.state.signals.lock().unwrap().clone()
    }

    /// The `traceparent` each trip lookup carried, in order.
    pub fn traceparents(&self) -> Vec<Option<String>> {
        self.state.traceparents.lock().unwrap().clone()
    }

    /// Every delivery attempt, accepted or not.
    pub fn deliveries(&self) -> u32 {
        self.state.deliveries.load(Ordering::SeqCst)
    }
}

fn authorised(state: &State, req: &HttpRequest) -> bool {
    req.headers()
        .get("x-waypoint-internal")
        .is_some_and(|v| v.as_bytes() == state.token.as_bytes())
}

async fn trip_handler(
    state: web::Data<State>,
    req: HttpRequest,
    id: web::Path<i64>,
) -> HttpResponse {
    if !authorised(&state, &req) {
        return HttpResponse::Forbidden()
            .json(json!({"error": {"code": "internal_only", "message": "no", "details": {}}}));
    }
    let traceparent = req.headers().get("traceparent");
    let traceparent = traceparent.and_then(|v| v.to_str().ok()).map(str::to_owned);
    state.traceparents.lock().unwrap().push(traceparent);
    match state.trips.get(&id) {
        Some(trip) => HttpResponse::Ok().json(trip),
        None => HttpResponse::NotFound().json(
            json!({"error": {"code": "not_found", "message": "trip not found", "details": {}}}),
        ),
    }
}

async fn signal_handler(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> HttpResponse {
    if !authorised(&state, &req) {
        return HttpResponse::Forbidden().finish();
    }
    state.deliveries.fetch_add(1, Ordering::SeqCst);
    let failing = state
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let body = body.into_inner();
    assert_eq!(body["kind"], "purchase");
    let mut signals = state.signals.lock().unwrap();
    if !signals
        .iter()
        .any(|s| s["reference"] == body["reference"] && s["kind"] == body["kind"])
    {
        signals.push(body);
    }
    HttpResponse::NoContent().finish()
}
