//! Calls to WeChat's API: the code exchange and userinfo.
//!
//! WeChat answers JSON, sometimes labelled `text/plain`, so bodies are parsed whatever the
//! content type says. Failures carry an `errcode` (40029 invalid code, 40163 code already
//! used, …). Every call is bounded by `WECHAT_TIMEOUT`. The app secret and WeChat's access
//! token travel in query strings (WeChat's protocol), so errors are stripped of their URL
//! before they can reach a log, and WeChat's tokens are dropped once userinfo is read.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use shared::config::Secret;
use shared::{ApiError, Code};

use crate::config::WeChatSettings;

/// WeChat's answers are small; anything larger is not WeChat.
const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct WeChatClient {
    http: reqwest::Client,
    api_base: String,
    appid: String,
    secret: Secret,
}

/// The person WeChat vouches for, as read from the exchange and userinfo.
#[derive(Debug, Clone)]
pub struct WeChatProfile {
    pub appid: String,
    pub openid: String,
    pub unionid: Option<String>,
    pub nickname: String,
    pub avatar_url: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    openid: String,
    #[serde(default)]
    unionid: Option<String>,
}

#[derive(Deserialize)]
struct UserInfo {
    openid: String,
    #[serde(default)]
    nickname: String,
    #[serde(default)]
    headimgurl: Option<String>,
    #[serde(default)]
    unionid: Option<String>,
}

/// Why a call to WeChat failed.
#[derive(Debug)]
pub enum WeChatError {
    /// WeChat answered with an `errcode`.
    Rejected {
        errcode: i64,
        errmsg: String,
    },
    Timeout,
    Unreachable(String),
    BadResponse(String),
}

impl fmt::Display for WeChatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected { errcode, errmsg } => write!(f, "WeChat errcode {errcode}: {errmsg}"),
            Self::Timeout => f.write_str("WeChat did not answer in time"),
            Self::Unreachable(why) => write!(f, "WeChat unreachable: {why}"),
            Self::BadResponse(why) => write!(f, "WeChat answered badly: {why}"),
        }
    }
}

impl std::error::Error for WeChatError {}

impl From<WeChatError> for ApiError {
    #[track_caller]
    fn from(err: WeChatError) -> Self {
        let api = match &err {
            WeChatError::Rejected {
                errcode: 40029 | 41008,
                ..
            } => ApiError::new(
                Code::WechatCodeInvalid,
                "WeChat did not accept this sign-in code; start the sign-in again.",
            ),
            WeChatError::Rejected { errcode: 40163, .. } => ApiError::new(
                Code::WechatCodeUsed,
                "This WeChat sign-in code was already used; start the sign-in again.",
            ),
            WeChatError::Rejected { .. } => ApiError::new(
                Code::WechatError,
                "WeChat refused the request; try again later.",
            ),
            WeChatError::Timeout => ApiError::new(
                Code::WechatTimeout,
                "WeChat did not answer in time; try again.",
            ),
            WeChatError::Unreachable(_) => ApiError::new(
                Code::WechatUnavailable,
                "WeChat cannot be reached right now; try again later.",
            ),
            WeChatError::BadResponse(_) => ApiError::new(
                Code::WechatBadResponse,
                "WeChat answered in an unexpected way; try again later.",
            ),
        };
        api.with_source(err)
    }
}

impl WeChatClient {
    pub fn new(settings: &WeChatSettings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(3)))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            api_base: settings.api_base.clone(),
            appid: settings.appid.clone(),
            secret: settings.secret.clone(),
        })
    }

    /// Exchanges the authorization `code` and reads the person's profile.
    pub async fn profile(&self, code: &str) -> Result<WeChatProfile, WeChatError> {
        let token: TokenResponse = self
            .get(
                "/sns/oauth2/access_token",
                &[
                    ("appid", self.appid.as_str()),
                    ("secret", self.secret.expose()),
                    ("code", code),
                    ("grant_type", "authorization_code"),
                ],
            )
            .await?;
        let info: UserInfo = self
            .get(
                "/sns/userinfo",
                &[
                    ("access_token", token.access_token.as_str()),
                    ("openid", token.openid.as_str()),
                    ("lang", "zh_CN"),
                ],
            )
            .await?;
        if info.openid != token.openid {
            return Err(WeChatError::BadResponse(
                "userinfo is about another openid".into(),
            ));
        }
        Ok(WeChatProfile {
            appid: self.appid.clone(),
            unionid: token
                .unionid
                .or(info.unionid)
                .filter(|u| !u.trim().is_empty()),
            openid: token.openid,
            nickname: info.nickname,
            avatar_url: info
                .headimgurl
                .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
                .filter(|url| url.len() <= 512),
        })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, WeChatError> {
        let response = self
            .http
            .get(format!("{}{path}", self.api_base))
            .query(query)
            .send()
            .await
            .map_err(transport_error)?;
        if !response.status().is_success() {
            return Err(WeChatError::BadResponse(format!(
                "HTTP {} from {path}",
                response.status()
            )));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_BODY_BYTES as u64)
        {
            return Err(WeChatError::BadResponse(format!("{path}: body too large")));
        }
        let body = response.bytes().await.map_err(transport_error)?;
        parse(path, &body)
    }
}

/// Parses a WeChat answer: an `errcode` other than 0 is a refusal, whatever else it holds.
fn parse<T: DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, WeChatError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(WeChatError::BadResponse(format!("{path}: body too large")));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|err| WeChatError::BadResponse(format!("{path}: not JSON: {err}")))?;
    let errcode = value.get("errcode").and_then(serde_json::Value::as_i64);
    if let Some(errcode) = errcode.filter(|code| *code != 0) {
        let errmsg = value
            .get("errmsg")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        return Err(WeChatError::Rejected { errcode, errmsg });
    }
    serde_json::from_value(value)
        .map_err(|err| WeChatError::BadResponse(format!("{path}: unexpected fields: {err}")))
}

/// A transport failure, without the URL (it holds the app secret or an access token).
fn transport_error(err: reqwest::Error) -> WeChatError {
    let timeout = err.is_timeout();
    let err = err.without_url();
    if timeout {
        WeChatError::Timeout
    } else if err.is_connect() {
        WeChatError::Unreachable(err.to_string())
    } else {
        WeChatError::BadResponse(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errcodes_are_refusals_even_with_other_fields() {
        let err = parse::<TokenResponse>(
            "/sns/oauth2/access_token",
            br#"{"errcode":40163,"errmsg":"code been used, rid: 1"}"#,
        )
        .err()
        .unwrap();
        assert!(matches!(err, WeChatError::Rejected { errcode: 40163, .. }));
        let api = ApiError::from(err);
        assert_eq!(
            (api.kind(), api.code()),
            (shared::ErrorKind::Unauthorized, Code::WechatCodeUsed)
        );
        let api = ApiError::from(
            parse::<TokenResponse>("/x", br#"{"errcode":-1}"#)
                .err()
                .unwrap(),
        );
        assert_eq!(
            (api.kind(), api.code()),
            (shared::ErrorKind::BadGateway, Code::WechatError)
        );
    }

    #[test]
    fn a_zero_errcode_and_extra_fields_are_fine() {
        let token: TokenResponse = parse(
            "/x",
            br#"{"errcode":0,"access_token":"t","expires_in":7200,"refresh_token":"r","openid":"o","scope":"snsapi_login"}"#,
        )
        .map_err(|e| e.to_string())
        .unwrap();
        assert_eq!((token.openid.as_str(), token.unionid), ("o", None));
    }

    #[test]
    fn garbage_is_a_bad_response() {
        for body in [&b"<html>busy</html>"[..], b"", br#"{"openid":1}"#] {
            assert!(matches!(
                parse::<TokenResponse>("/x", body),
                Err(WeChatError::BadResponse(_))
            ));
        }
    }

    #[tokio::test]
    async fn transport_errors_never_carry_the_secret() {
        let client = WeChatClient::new(&WeChatSettings {
            appid: "wx-app".into(),
            secret: Secret::new("the-app-secret-value"),
            open_base: shared::testing::REFUSING_URL.into(),
            api_base: shared::testing::REFUSING_URL.into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            timeout: Duration::from_secs(2),
        })
        .unwrap();
        let err = client.profile("some-code").await.err().unwrap();
        assert!(matches!(err, WeChatError::Unreachable(_)), "{err:?}");
        let api = ApiError::from(err);
        let logged = format!("{api:?} {}", api.body());
        assert!(!logged.contains("the-app-secret-value"), "{logged}");
        assert_eq!(api.code(), Code::WechatUnavailable);
    }
}
