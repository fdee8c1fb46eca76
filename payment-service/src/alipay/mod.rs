//! A client for Alipay's open platform (page pay, wap pay, query, refund, close) and the
//! verification of what Alipay sends back. It knows nothing of orders or databases, so it
//! can be used alone.
//!
//! Every request is signed RSA2 with the app private key ([`sign`] says over what); every
//! synchronous answer and notification is verified with Alipay's public key before any of
//! it is used. Amounts are integer cents ([`Amount`]), never floats.

mod amount;
mod keys;
mod notify;
mod response;
pub mod sign;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Value, json};

pub use amount::{Amount, AmountError, MAX_CENTS};
pub use keys::{AppPrivateKey, KeyError, PublicKey, decode_pem, encode_pem};
pub use notify::{Notification, NotifyError, Params, ReturnParams, TradeStatus};
pub use response::raw_value;

/// Alipay's sandbox gateway, for the README's instructions and defaults.
pub const SANDBOX_GATEWAY: &str = "https://openapi-sandbox.dl.alipaydev.com/gateway.do";

/// What identifies us to Alipay.
#[derive(Debug)]
pub struct AlipayConfig {
    pub app_id: String,
    /// The merchant's Alipay user id (2088…); notifications must name it.
    pub seller_id: String,
    pub app_private_key: AppPrivateKey,
    pub alipay_public_key: PublicKey,
    /// e.g. `https://openapi.alipay.com/gateway.do` or [`SANDBOX_GATEWAY`].
    pub gateway_url: String,
    pub notify_url: String,
    pub return_url: String,
    /// Bound on each call to the gateway.
    pub timeout: Duration,
}

/// Where the buyer pays: the desktop cashier or the mobile web one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Page,
    Wap,
}

impl Channel {
    fn method(self) -> &'static str {
        match self {
            Self::Page => "alipay.trade.page.pay",
            Self::Wap => "alipay.trade.wap.pay",
        }
    }

    fn product_code(self) -> &'static str {
        match self {
            Self::Page => "FAST_INSTANT_TRADE_PAY",
            Self::Wap => "QUICK_WAP_PAY",
        }
    }
}

/// A trade to pay.
#[derive(Debug, Clone)]
pub struct TradeOrder<'a> {
    pub out_trade_no: &'a str,
    pub total_amount: Amount,
    pub subject: &'a str,
    /// After this Alipay refuses to take the payment.
    pub time_expire: Option<DateTime<Utc>>,
}

/// Why a call to Alipay did not give a usable answer.
#[derive(Debug, thiserror::Error)]
pub enum AlipayError {
    #[error("cannot reach Alipay: {0}")]
    Transport(String),
    #[error("Alipay answered HTTP {0}")]
    Http(u16),
    #[error("Alipay's answer is malformed: {0}")]
    Malformed(String),
    #[error("Alipay's answer is not signed by Alipay's key")]
    BadSignature,
    #[error("Alipay refused: {code} {msg} {sub_code} {sub_msg}")]
    Business {
        code: String,
        msg: String,
        sub_code: String,
        sub_msg: String,
    },
    #[error("signing the request failed: {0}")]
    Signing(#[from] KeyError),
}

impl AlipayError {
    /// Alipay's `sub_code` (e.g. `ACQ.TRADE_NOT_EXIST`) of a verified refusal.
    pub fn sub_code(&self) -> Option<&str> {
        match self {
            Self::Business { sub_code, .. } => Some(sub_code),
            _ => None,
        }
    }

    /// Whether the outcome is unknown (the request may or may not have taken effect).
    pub fn is_indeterminate(&self) -> bool {
        matches!(
            self,
            Self::Transport(_) | Self::Http(_) | Self::Malformed(_) | Self::BadSignature
        ) || self.sub_code() == Some("ACQ.SYSTEM_ERROR")
    }
}

/// `alipay.trade.query`'s verified answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeQuery {
    pub out_trade_no: String,
    pub trade_no: Option<String>,
    pub trade_status: TradeStatus,
    pub total_amount: Option<Amount>,
}

/// `alipay.trade.refund`'s verified answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOutcome {
    /// `false` when this `out_request_no` had already been refunded (Alipay's idempotency).
    pub fund_change: bool,
    /// All refunds of the trade so far.
    pub refund_fee: Option<Amount>,
}

pub struct AlipayClient {
    config: Arc<AlipayConfig>,
    http: reqwest::Client,
}

impl AlipayClient {
    pub fn new(config: AlipayConfig, http: reqwest::Client) -> Self {
        Self {
            config: Arc::new(config),
            http,
        }
    }

    pub fn config(&self) -> &AlipayConfig {
        &self.config
    }

    /// The signed URL of the cashier page, where the buyer pays.
    pub fn pay_url(
        &self,
        order: &TradeOrder<'_>,
        channel: Channel,
        now: DateTime<Utc>,
    ) -> Result<String, AlipayError> {
        let mut biz = json!({
            "out_trade_no": order.out_trade_no,
            "total_amount": order.total_amount.to_string(),
            "subject": order.subject,
            "product_code": channel.product_code(),
        });
        if let Some(expire) = order.time_expire {
            biz["time_expire"] = Value::String(beijing_time(expire));
        }
        let params = self.signed_params(channel.method(), &biz, true, now)?;
        let query = serde_urlencoded::to_string(&params)
            .map_err(|err| AlipayError::Malformed(err.to_string()))?;
        let joiner = if self.config.gateway_url.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(format!("{}{joiner}{query}", self.config.gateway_url))
    }

    pub async fn query(&self, out_trade_no: &str) -> Result<TradeQuery, AlipayError> {
        let answer = self
            .call(
                "alipay.trade.query",
                &json!({ "out_trade_no": out_trade_no }),
            )
            .await?;
        let status = text(&answer, "trade_status")
            .ok_or_else(|| AlipayError::Malformed("trade_status missing".into()))?;
        Ok(TradeQuery {
            out_trade_no: text(&answer, "out_trade_no").unwrap_or(out_trade_no.to_owned()),
            trade_no: text(&answer, "trade_no"),
            trade_status: TradeStatus::parse(&status)
                .ok_or_else(|| AlipayError::Malformed(format!("trade_status {status:?}")))?,
            total_amount: amount_of(&answer, "total_amount")?,
        })
    }

    /// Closes an unpaid trade. A trade Alipay never saw (the buyer never opened the
    /// cashier) answers `ACQ.TRADE_NOT_EXIST`, which callers may treat as closed.
    pub async fn close(&self, out_trade_no: &str) -> Result<(), AlipayError> {
        self.call(
            "alipay.trade.close",
            &json!({ "out_trade_no": out_trade_no }),
        )
        .await
        .map(drop)
    }

    /// Refunds `amount` of a paid trade; the same `out_request_no` never refunds twice.
    pub async fn refund(
        &self,
        out_trade_no: &str,
        amount: Amount,
        out_request_no: &str,
        reason: Option<&str>,
    ) -> Result<RefundOutcome, AlipayError> {
        let mut biz = json!({
            "out_trade_no": out_trade_no,
            "refund_amount": amount.to_string(),
            "out_request_no": out_request_no,
        });
        if let Some(reason) = reason {
            biz["refund_reason"] = Value::String(reason.to_owned());
        }
        let answer = self.call("alipay.trade.refund", &biz).await?;
        Ok(RefundOutcome {
            fund_change: text(&answer, "fund_change").as_deref() == Some("Y"),
            refund_fee: amount_of(&answer, "refund_fee")?,
        })
    }

    /// Parses and verifies a notification form body.
    pub fn verify_notification(&self, form: &[u8]) -> Result<Notification, NotifyError> {
        Params::parse(form)?.into_notification(
            &self.config.alipay_public_key,
            &self.config.app_id,
            &self.config.seller_id,
        )
    }

    /// Parses and verifies the query string of the browser's return.
    pub fn verify_return(&self, query: &str) -> Result<ReturnParams, NotifyError> {
        Params::parse(query.as_bytes())?.into_return(
            &self.config.alipay_public_key,
            &self.config.app_id,
            &self.config.seller_id,
        )
    }

    fn signed_params(
        &self,
        method: &str,
        biz: &Value,
        with_urls: bool,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<&'static str, String>, AlipayError> {
        let config = &self.config;
        let mut params = BTreeMap::from([
            ("app_id", config.app_id.clone()),
            ("method", method.to_owned()),
            ("format", "JSON".to_owned()),
            ("charset", "utf-8".to_owned()),
            ("sign_type", "RSA2".to_owned()),
            ("timestamp", beijing_time(now)),
            ("version", "1.0".to_owned()),
            ("biz_content", biz.to_string()),
        ]);
        if with_urls {
            params.insert("notify_url", config.notify_url.clone());
            params.insert("return_url", config.return_url.clone());
        }
        let text = sign::signing_string(
            params.iter().map(|(k, v)| (*k, v.as_str())),
            sign::REQUEST_UNSIGNED,
        );
        let signature = config.app_private_key.sign(text.as_bytes())?;
        params.insert("sign", signature);
        Ok(params)
    }

    /// POSTs a signed request and returns the verified `<method>_response` object of a
    /// successful (`code` 10000) answer.
    async fn call(&self, method: &str, biz: &Value) -> Result<Value, AlipayError> {
        let params = self.signed_params(method, biz, false, Utc::now())?;
        let response = self
            .http
            .post(&self.config.gateway_url)
            .timeout(self.config.timeout)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .body(
                serde_urlencoded::to_string(&params)
                    .map_err(|err| AlipayError::Malformed(err.to_string()))?,
            )
            .send()
            .await
            .map_err(|err| AlipayError::Transport(err.to_string()))?;
        if !response.status().is_success() {
            return Err(AlipayError::Http(response.status().as_u16()));
        }
        let body = response
            .text()
            .await
            .map_err(|err| AlipayError::Transport(err.to_string()))?;
        self.verified_answer(method, &body)
    }

    /// Verifies `body` (an answer to `method`) and returns the answer object when its
    /// code is 10000; a verified refusal is [`AlipayError::Business`].
    pub fn verified_answer(&self, method: &str, body: &str) -> Result<Value, AlipayError> {
        let key = format!("{}_response", method.replace('.', "_"));
        let raw = response::raw_value(body, &key)
            .or_else(|| response::raw_value(body, "error_response"))
            .ok_or_else(|| AlipayError::Malformed(format!("no {key} in the answer")))?;
        let signature = response::signature(body).ok_or(AlipayError::BadSignature)?;
        if !self
            .config
            .alipay_public_key
            .verify(raw.as_bytes(), &signature)
        {
            return Err(AlipayError::BadSignature);
        }
        let answer: Value =
            serde_json::from_str(raw).map_err(|err| AlipayError::Malformed(err.to_string()))?;
        let code = text(&answer, "code").unwrap_or_default();
        if code != "10000" {
            return Err(AlipayError::Business {
                code,
                msg: text(&answer, "msg").unwrap_or_default(),
                sub_code: text(&answer, "sub_code").unwrap_or_default(),
                sub_msg: text(&answer, "sub_msg").unwrap_or_default(),
            });
        }
        Ok(answer)
    }
}

/// Beijing time, UTC+8: Alipay's clock.
const BEIJING: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is a valid offset"),
};

/// `yyyy-MM-dd HH:mm:ss` in Beijing time (UTC+8), as Alipay's timestamps are.
pub fn beijing_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&BEIJING)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn text(answer: &Value, key: &str) -> Option<String> {
    answer.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn amount_of(answer: &Value, key: &str) -> Result<Option<Amount>, AlipayError> {
    text(answer, key)
        .map(|value| Amount::parse(&value).map_err(|err| AlipayError::Malformed(err.to_string())))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_beijing_time() {
        let at = DateTime::parse_from_rfc3339("2026-11-26T12:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(beijing_time(at), "2026-11-26 20:30:00");
    }
}
