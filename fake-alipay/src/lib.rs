//! A fake Alipay open-platform gateway for tests and local runs. It is never part of a
//! service binary: payment-service's tests use it as a library, `cargo xtask up` runs its
//! binary.
//!
//! It speaks the real protocol with its own RSA key pair: it verifies our request
//! signatures with the app's public key, serves the cashier page (a "Pay" button standing
//! in for the buyer) that redirects to return_url with signed parameters, sends signed
//! notifications to notify_url (retrying until it reads `success`, then sending a
//! duplicate, as Alipay may), and answers alipay.trade.query / refund / close with signed
//! responses (the signature over the raw `<method>_response` text).

pub mod keys;
mod pages;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use crate::keys::{Signer, Verifier, signing_text};

pub struct FakeConfig {
    pub bind_addr: String,
    pub app_id: String,
    pub seller_id: String,
    /// The merchant's public key: our requests must verify with it.
    pub app_public_key_pem: String,
    /// "Alipay's" private key: it signs answers, returns and notifications.
    pub alipay_private_key_pem: String,
    /// Copies sent after a notification was acknowledged (Alipay may repeat itself).
    pub duplicates: u32,
    /// Delivery attempts of a notification before giving up.
    pub max_attempts: u32,
    /// Wait before the n-th retry: n × this.
    pub retry_delay: Duration,
}

impl FakeConfig {
    pub fn new(app_public_key_pem: String, alipay_private_key_pem: String) -> Self {
        Self {
            bind_addr: "127.0.0.1:0".into(),
            app_id: "2021000000000001".into(),
            seller_id: "2088000000000001".into(),
            app_public_key_pem,
            alipay_private_key_pem,
            duplicates: 1,
            max_attempts: 8,
            retry_delay: Duration::from_millis(100),
        }
    }
}

/// A trade as the fake Alipay knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    pub out_trade_no: String,
    pub trade_no: String,
    pub total_cents: i64,
    pub subject: String,
    /// WAIT_BUYER_PAY, TRADE_SUCCESS or TRADE_CLOSED.
    pub status: &'static str,
    pub notify_url: String,
    pub return_url: String,
    pub refunded_cents: i64,
    refunds: Vec<String>,
}

/// How the notifications of a payment travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Until acknowledged, then the configured duplicates.
    Normal,
    /// Never: the notification is lost (only a trade query will tell).
    Lost,
}

/// One notification delivery attempt and what our notify_url answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub out_trade_no: String,
    pub answer: String,
}

/// A request the gateway received: its method, whether its signature verified, and the
/// trade it named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: String,
    pub verified: bool,
    pub out_trade_no: Option<String>,
}

struct State {
    config: FakeConfig,
    signer: Signer,
    verifier: Verifier,
    trades: Mutex<HashMap<String, Trade>>,
    attempts: Mutex<Vec<Attempt>>,
    calls: Mutex<Vec<Call>>,
    /// Methods that answer HTTP 503 for their next n calls (an outage).
    outages: Mutex<HashMap<String, u32>>,
    http: reqwest::Client,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Clone)]
pub struct FakeAlipay {
    base_url: String,
    state: Arc<State>,
}

impl FakeAlipay {
    /// Binds and serves on the current runtime.
    pub fn start(config: FakeConfig) -> anyhow::Result<Self> {
        let state = Arc::new(State {
            signer: Signer::from_pem(&config.alipay_private_key_pem)?,
            verifier: Verifier::from_pem(&config.app_public_key_pem)?,
            config,
            trades: Mutex::default(),
            attempts: Mutex::default(),
            calls: Mutex::default(),
            outages: Mutex::default(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
        });
        let listener = TcpListener::bind(&state.config.bind_addr)?;
        let port = listener.local_addr()?.port();
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(64 * 1024))
                .route("/gateway.do", web::get().to(gateway))
                .route("/gateway.do", web::post().to(gateway))
                .route("/cashier/pay", web::post().to(cashier_pay))
                .route(
                    "/healthz",
                    web::get().to(|| async { HttpResponse::Ok().body("ok") }),
                )
        })
        .workers(1)
        .listen(listener)?
        .run();
        tokio::spawn(server);
        Ok(Self {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn gateway_url(&self) -> String {
        format!("{}/gateway.do", self.base_url)
    }

    /// "Alipay's" public key, for payment-service's configuration.
    pub fn alipay_public_key_pem(&self) -> anyhow::Result<String> {
        self.state.signer.public_pem()
    }

    pub fn trade(&self, out_trade_no: &str) -> Option<Trade> {
        lock(&self.state.trades).get(out_trade_no).cloned()
    }

    pub fn calls(&self) -> Vec<Call> {
        lock(&self.state.calls).clone()
    }

    pub fn attempts(&self, out_trade_no: &str) -> Vec<Attempt> {
        lock(&self.state.attempts)
            .iter()
            .filter(|a| a.out_trade_no == out_trade_no)
            .cloned()
            .collect()
    }

    /// The next `count` calls of `method` answer HTTP 503.
    pub fn outage(&self, method: &str, count: u32) {
        lock(&self.state.outages).insert(method.to_owned(), count);
    }

    /// The buyer pays (as the cashier's button does); returns the signed return URL.
    /// With [`Delivery::Normal`] the notifications are sent in the background; await
    /// [`FakeAlipay::notify_now`] instead to send one and read the answer.
    pub fn pay(&self, out_trade_no: &str, delivery: Delivery) -> anyhow::Result<String> {
        let trade = self.state.mark_paid(out_trade_no)?;
        if delivery == Delivery::Normal {
            tokio::spawn(self.state.clone().deliver(trade.clone()));
        }
        self.state.return_url(&trade)
    }

    /// The signed notification form of a trade's current state, as `(key, value)` pairs
    /// in Alipay's field order (tests alter and re-sign it).
    pub fn notification(&self, out_trade_no: &str) -> anyhow::Result<Vec<(String, String)>> {
        let trade = self
            .trade(out_trade_no)
            .ok_or_else(|| anyhow::anyhow!("no trade {out_trade_no}"))?;
        self.state.notification(&trade, trade.status)
    }

    /// Signs `params` as Alipay signs a notification (all but `sign` and `sign_type`),
    /// replacing any `sign`.
    pub fn sign(&self, params: &mut Vec<(String, String)>) -> anyhow::Result<()> {
        params.retain(|(k, _)| k != "sign");
        let signature = self
            .state
            .signer
            .sign(&signing_text(params, &["sign", "sign_type"]))?;
        params.push(("sign".into(), signature));
        Ok(())
    }

    /// Sends one notification of the trade's state now and returns our answer.
    pub async fn notify_now(&self, out_trade_no: &str) -> anyhow::Result<String> {
        let trade = self
            .trade(out_trade_no)
            .ok_or_else(|| anyhow::anyhow!("no trade {out_trade_no}"))?;
        let form = self.state.notification(&trade, trade.status)?;
        self.state.post_notification(&trade, &form).await
    }
}

impl State {
    fn mark_paid(&self, out_trade_no: &str) -> anyhow::Result<Trade> {
        let mut trades = lock(&self.trades);
        let trade = trades
            .get_mut(out_trade_no)
            .ok_or_else(|| anyhow::anyhow!("no trade {out_trade_no}"))?;
        anyhow::ensure!(
            trade.status == "WAIT_BUYER_PAY",
            "the trade is {}",
            trade.status
        );
        trade.status = "TRADE_SUCCESS";
        Ok(trade.clone())
    }

    fn now() -> String {
        let Some(beijing) = chrono::FixedOffset::east_opt(8 * 3600) else {
            return String::new();
        };
        chrono::Utc::now()
            .with_timezone(&beijing)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    fn return_url(&self, trade: &Trade) -> anyhow::Result<String> {
        let c = &self.config;
        let mut params = vec![
            ("charset", "utf-8".to_owned()),
            ("out_trade_no", trade.out_trade_no.clone()),
            ("method", "alipay.trade.page.pay.return".into()),
            ("total_amount", yuan(trade.total_cents)),
            ("sign_type", "RSA2".into()),
            ("trade_no", trade.trade_no.clone()),
            ("auth_app_id", c.app_id.clone()),
            ("version", "1.0".into()),
            ("app_id", c.app_id.clone()),
            ("seller_id", c.seller_id.clone()),
            ("timestamp", Self::now()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect::<Vec<_>>();
        params.push((
            "sign".into(),
            self.signer
                .sign(&signing_text(&params, &["sign", "sign_type"]))?,
        ));
        let query = serde_urlencoded::to_string(&params)?;
        let joiner = if trade.return_url.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(format!("{}{joiner}{query}", trade.return_url))
    }

    fn notification(&self, trade: &Trade, status: &str) -> anyhow::Result<Vec<(String, String)>> {
        let c = &self.config;
        let now = Self::now();
        let amount = yuan(trade.total_cents);
        let mut params: Vec<(String, String)> = [
            ("gmt_create", now.clone()),
            ("charset", "utf-8".into()),
            ("gmt_payment", now.clone()),
            ("notify_time", now),
            ("subject", trade.subject.clone()),
            ("sign_type", "RSA2".into()),
            ("buyer_id", "2088102177846880".into()),
            ("invoice_amount", amount.clone()),
            ("version", "1.0".into()),
            (
                "notify_id",
                format!("fake{}", shared::random::token_hex(12)),
            ),
            (
                "fund_bill_list",
                format!(r#"[{{"amount":"{amount}","fundChannel":"ALIPAYACCOUNT"}}]"#),
            ),
            ("notify_type", "trade_status_sync".into()),
            ("out_trade_no", trade.out_trade_no.clone()),
            ("total_amount", amount.clone()),
            ("trade_status", status.to_owned()),
            ("trade_no", trade.trade_no.clone()),
            ("auth_app_id", c.app_id.clone()),
            ("receipt_amount", amount.clone()),
            ("point_amount", "0.00".into()),
            ("app_id", c.app_id.clone()),
            ("buyer_pay_amount", amount),
            ("seller_id", c.seller_id.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let signature = self
            .signer
            .sign(&signing_text(&params, &["sign", "sign_type"]))?;
        params.push(("sign".into(), signature));
        Ok(params)
    }

    async fn post_notification(
        &self,
        trade: &Trade,
        form: &[(String, String)],
    ) -> anyhow::Result<String> {
        let body = serde_urlencoded::to_string(form)?;
        let answer = match self
            .http
            .post(&trade.notify_url)
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(body)
            .send()
            .await
        {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(err) => format!("(no answer: {err})"),
        };
        lock(&self.attempts).push(Attempt {
            out_trade_no: trade.out_trade_no.clone(),
            answer: answer.clone(),
        });
        Ok(answer)
    }

    /// Delivers until `success`, then the duplicates.
    async fn deliver(self: Arc<Self>, trade: Trade) {
        let Ok(form) = self.notification(&trade, "TRADE_SUCCESS") else {
            return;
        };
        for attempt in 1..=self.config.max_attempts {
            match self.post_notification(&trade, &form).await {
                Ok(answer) if answer.trim() == "success" => {
                    for _ in 0..self.config.duplicates {
                        let _ = self.post_notification(&trade, &form).await;
                    }
                    return;
                }
                _ => tokio::time::sleep(self.config.retry_delay * attempt).await,
            }
        }
        tracing::warn!(out_trade_no = %trade.out_trade_no, "fake Alipay gave up notifying");
    }

    /// `{"<method>_response": <answer>, "sign": "..."}`, signed over the answer's text.
    fn answer(&self, method: &str, answer: &Value) -> HttpResponse {
        let key = if answer["code"] == "40002" {
            "error_response".to_owned()
        } else {
            format!("{}_response", method.replace('.', "_"))
        };
        let text = answer.to_string();
        match self.signer.sign(&text) {
            Ok(sign) => HttpResponse::Ok()
                .content_type("application/json;charset=utf-8")
                .body(format!(r#"{{"{key}":{text},"sign":"{sign}"}}"#)),
            Err(_) => HttpResponse::InternalServerError().finish(),
        }
    }
}

/// Alipay's business failure answer.
fn failure(sub_code: &str, sub_msg: &str) -> Value {
    json!({"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg})
}

pub fn yuan(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn cents(text: &str) -> Option<i64> {
    let (units, fraction) = text.split_once('.').unwrap_or((text, ""));
    if units.is_empty()
        || fraction.len() > 2
        || !format!("{units}{fraction}")
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let fraction = format!("{fraction:0<2}");
    Some(units.parse::<i64>().ok()? * 100 + fraction.parse::<i64>().ok()?)
}

async fn gateway(state: web::Data<State>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let mut params: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    params.extend(serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).unwrap_or_default());
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let method = get("method");
    let verified = get("sign_type") == "RSA2"
        && get("app_id") == state.config.app_id
        && state
            .verifier
            .verify(&signing_text(&params, &["sign"]), &get("sign"));
    let biz: Value = serde_json::from_str(&get("biz_content")).unwrap_or(Value::Null);
    let out_trade_no = biz["out_trade_no"].as_str().map(str::to_owned);
    lock(&state.calls).push(Call {
        method: method.clone(),
        verified,
        out_trade_no: out_trade_no.clone(),
    });
    {
        let mut outages = lock(&state.outages);
        if let Some(left) = outages.get_mut(&method).filter(|left| **left > 0) {
            *left -= 1;
            return HttpResponse::ServiceUnavailable().body("outage");
        }
    }
    if !verified {
        let answer = json!({"code": "40002", "msg": "Invalid Arguments",
            "sub_code": "isv.invalid-signature", "sub_msg": "signature verification failed"});
        if method.ends_with(".pay") {
            return pages::error("The merchant's request signature does not verify.");
        }
        return state.answer(&method, &answer);
    }
    let Some(out_trade_no) = out_trade_no else {
        return state.answer(
            &method,
            &failure("ACQ.INVALID_PARAMETER", "out_trade_no missing"),
        );
    };
    match method.as_str() {
        "alipay.trade.page.pay" | "alipay.trade.wap.pay" => {
            let Some(total) = biz["total_amount"].as_str().and_then(cents) else {
                return pages::error("total_amount is not an amount.");
            };
            let trade = {
                let mut trades = lock(&state.trades);
                trades
                    .entry(out_trade_no.clone())
                    .or_insert_with(|| Trade {
                        out_trade_no: out_trade_no.clone(),
                        trade_no: format!("2026{}", shared::random::token_hex(12)),
                        total_cents: total,
                        subject: biz["subject"].as_str().unwrap_or_default().to_owned(),
                        status: "WAIT_BUYER_PAY",
                        notify_url: get("notify_url"),
                        return_url: get("return_url"),
                        refunded_cents: 0,
                        refunds: Vec::new(),
                    })
                    .clone()
            };
            pages::cashier(&trade)
        }
        "alipay.trade.query" => {
            let answer = match state.trade_snapshot(&out_trade_no) {
                None => failure("ACQ.TRADE_NOT_EXIST", "trade does not exist"),
                Some(t) => json!({"code": "10000", "msg": "Success",
                    "buyer_logon_id": "tra***@example.com", "buyer_pay_amount": yuan(t.total_cents),
                    "out_trade_no": t.out_trade_no, "total_amount": yuan(t.total_cents),
                    "trade_no": t.trade_no, "trade_status": t.status}),
            };
            state.answer(&method, &answer)
        }
        "alipay.trade.close" => {
            let answer = {
                let mut trades = lock(&state.trades);
                match trades.get_mut(&out_trade_no) {
                    None => failure("ACQ.TRADE_NOT_EXIST", "trade does not exist"),
                    Some(t) if t.status == "WAIT_BUYER_PAY" => {
                        t.status = "TRADE_CLOSED";
                        json!({"code": "10000", "msg": "Success", "out_trade_no": t.out_trade_no, "trade_no": t.trade_no})
                    }
                    Some(_) => failure(
                        "ACQ.TRADE_STATUS_ERROR",
                        "trade status is not WAIT_BUYER_PAY",
                    ),
                }
            };
            state.answer(&method, &answer)
        }
        "alipay.trade.refund" => {
            let request_no = biz["out_request_no"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let amount = biz["refund_amount"].as_str().and_then(cents);
            let answer = {
                let mut trades = lock(&state.trades);
                match (trades.get_mut(&out_trade_no), amount) {
                    (None, _) => failure("ACQ.TRADE_NOT_EXIST", "trade does not exist"),
                    (_, None) => failure("ACQ.INVALID_PARAMETER", "refund_amount"),
                    (Some(t), Some(amount)) => {
                        let repeat = t.refunds.contains(&request_no);
                        if repeat {
                            refund_answer(t, false)
                        } else if t.status != "TRADE_SUCCESS" {
                            failure("ACQ.TRADE_STATUS_ERROR", "trade status is not refundable")
                        } else if amount <= 0 || t.refunded_cents + amount > t.total_cents {
                            failure(
                                "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                                "refund amount exceeds the trade",
                            )
                        } else {
                            t.refunded_cents += amount;
                            t.refunds.push(request_no);
                            if t.refunded_cents == t.total_cents {
                                t.status = "TRADE_CLOSED";
                            }
                            refund_answer(t, true)
                        }
                    }
                }
            };
            state.answer(&method, &answer)
        }
        _ => state.answer(&method, &failure("isv.invalid-method", "unknown method")),
    }
}

impl State {
    fn trade_snapshot(&self, out_trade_no: &str) -> Option<Trade> {
        lock(&self.trades).get(out_trade_no).cloned()
    }
}

fn refund_answer(t: &Trade, fund_change: bool) -> Value {
    json!({"code": "10000", "msg": "Success", "out_trade_no": t.out_trade_no, "trade_no": t.trade_no,
        "buyer_logon_id": "tra***@example.com", "fund_change": if fund_change { "Y" } else { "N" },
        "refund_fee": yuan(t.refunded_cents)})
}

/// The cashier's Pay button: the buyer pays; notifications go out; the browser returns.
async fn cashier_pay(
    state: web::Data<State>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let out_trade_no = form.get("out_trade_no").cloned().unwrap_or_default();
    let trade = match state.mark_paid(&out_trade_no) {
        Ok(trade) => trade,
        Err(err) => return pages::error(&err.to_string()),
    };
    tokio::spawn(state.clone().into_inner().deliver(trade.clone()));
    match state.return_url(&trade) {
        Ok(url) => HttpResponse::SeeOther()
            .insert_header(("location", url))
            .finish(),
        Err(err) => pages::error(&err.to_string()),
    }
}
