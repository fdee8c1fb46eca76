//! What Alipay sends us: the asynchronous notification (a form POST to notify_url) and the
//! parameters of the browser's return to return_url. Both are signed over every parameter
//! except `sign` and `sign_type`, with Alipay's key.

use super::amount::Amount;
use super::keys::PublicKey;
use super::sign::{NOTIFY_UNSIGNED, signing_string, signing_string_with_empty};

/// Why a notification (or return) is not believed. Each reason changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("the form is not valid application/x-www-form-urlencoded")]
    Malformed,
    #[error("the field {0:?} appears more than once")]
    DuplicateField(String),
    #[error("sign_type must be RSA2")]
    SignType,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("app_id is not ours")]
    ForeignApp,
    #[error("seller_id is not ours")]
    ForeignSeller,
    #[error("the field {0:?} is missing")]
    Missing(&'static str),
    #[error("total_amount {0:?} is not an amount")]
    BadAmount(String),
    #[error("unknown trade_status {0:?}")]
    UnknownStatus(String),
}

impl NotifyError {
    /// A stable name for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::DuplicateField(_) => "duplicate_field",
            Self::SignType => "sign_type",
            Self::BadSignature => "bad_signature",
            Self::ForeignApp => "foreign_app_id",
            Self::ForeignSeller => "foreign_seller_id",
            Self::Missing(_) => "missing_field",
            Self::BadAmount(_) => "bad_amount",
            Self::UnknownStatus(_) => "unknown_trade_status",
        }
    }
}

/// The state of a trade at Alipay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeStatus {
    WaitBuyerPay,
    /// Paid; refunds still possible.
    TradeSuccess,
    /// Paid; no more refunds.
    TradeFinished,
    /// Closed unpaid, or fully refunded.
    TradeClosed,
}

impl TradeStatus {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "WAIT_BUYER_PAY" => Self::WaitBuyerPay,
            "TRADE_SUCCESS" => Self::TradeSuccess,
            "TRADE_FINISHED" => Self::TradeFinished,
            "TRADE_CLOSED" => Self::TradeClosed,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::WaitBuyerPay => "WAIT_BUYER_PAY",
            Self::TradeSuccess => "TRADE_SUCCESS",
            Self::TradeFinished => "TRADE_FINISHED",
            Self::TradeClosed => "TRADE_CLOSED",
        }
    }

    /// Only these mean the buyer paid.
    pub fn is_paid(self) -> bool {
        matches!(self, Self::TradeSuccess | Self::TradeFinished)
    }
}

/// A verified notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub out_trade_no: String,
    pub trade_no: String,
    pub trade_status: TradeStatus,
    pub total_amount: Amount,
    pub notify_id: Option<String>,
}

/// Verified parameters of the browser's return from the payment page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnParams {
    pub out_trade_no: String,
    pub trade_no: Option<String>,
    pub total_amount: Amount,
}

/// Parsed form fields in their original order; a field given twice is refused, so no
/// reader can pick a different copy than the one the signature was checked over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(form: &[u8]) -> Result<Self, NotifyError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(form).map_err(|_| NotifyError::Malformed)?;
        for (i, (key, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(k, _)| k == key) {
                return Err(NotifyError::DuplicateField(key.clone()));
            }
        }
        Ok(Self(pairs))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn require(&self, key: &'static str) -> Result<&str, NotifyError> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .ok_or(NotifyError::Missing(key))
    }

    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Checks `sign_type=RSA2` and the signature with Alipay's key.
    pub fn verify(&self, alipay_key: &PublicKey) -> Result<(), NotifyError> {
        if self.get("sign_type") != Some("RSA2") {
            return Err(NotifyError::SignType);
        }
        let sign = self
            .require("sign")
            .map_err(|_| NotifyError::BadSignature)?;
        let text = signing_string(self.pairs(), NOTIFY_UNSIGNED);
        if alipay_key.verify(text.as_bytes(), sign) {
            return Ok(());
        }
        // Alipay's own SDKs verify notifications over empty values too; accept that form
        // (it is equally signed by Alipay) when the notification has empty values.
        if self.pairs().any(|(_, v)| v.is_empty()) {
            let text = signing_string_with_empty(self.pairs(), NOTIFY_UNSIGNED);
            if alipay_key.verify(text.as_bytes(), sign) {
                return Ok(());
            }
        }
        Err(NotifyError::BadSignature)
    }

    fn check_merchant(&self, app_id: &str, seller_id: &str) -> Result<(), NotifyError> {
        if self.get("app_id") != Some(app_id) {
            return Err(NotifyError::ForeignApp);
        }
        if self.get("seller_id") != Some(seller_id) {
            return Err(NotifyError::ForeignSeller);
        }
        Ok(())
    }

    fn amount(&self) -> Result<Amount, NotifyError> {
        let text = self.require("total_amount")?;
        Amount::parse(text).map_err(|_| NotifyError::BadAmount(text.to_owned()))
    }

    /// Signature first, then merchant, then the fields.
    pub fn into_notification(
        self,
        alipay_key: &PublicKey,
        app_id: &str,
        seller_id: &str,
    ) -> Result<Notification, NotifyError> {
        self.verify(alipay_key)?;
        self.check_merchant(app_id, seller_id)?;
        let status = self.require("trade_status")?;
        let trade_status =
            TradeStatus::parse(status).ok_or_else(|| NotifyError::UnknownStatus(status.into()))?;
        Ok(Notification {
            out_trade_no: self.require("out_trade_no")?.to_owned(),
            trade_no: self.require("trade_no")?.to_owned(),
            trade_status,
            total_amount: self.amount()?,
            notify_id: self.get("notify_id").map(str::to_owned),
        })
    }

    /// The browser's return: signed like a notification, without a trade status.
    pub fn into_return(
        self,
        alipay_key: &PublicKey,
        app_id: &str,
        seller_id: &str,
    ) -> Result<ReturnParams, NotifyError> {
        self.verify(alipay_key)?;
        self.check_merchant(app_id, seller_id)?;
        Ok(ReturnParams {
            out_trade_no: self.require("out_trade_no")?.to_owned(),
            trade_no: self
                .get("trade_no")
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
            total_amount: self.amount()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_given_twice_is_refused_before_anything_else() {
        assert_eq!(
            Params::parse(b"total_amount=1.00&a=b&total_amount=0.01"),
            Err(NotifyError::DuplicateField("total_amount".into()))
        );
        let params = Params::parse(b"a=%E4%B8%BD+x&b=").unwrap();
        assert_eq!(params.get("a"), Some("丽 x"));
        assert_eq!(params.get("b"), Some(""));
    }
}
