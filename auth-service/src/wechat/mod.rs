//! Sign-in with WeChat (website application, OAuth 2.0 "QR connect").
//!
//! 1. `GET /v1/auth/oauth/wechat/authorize?return_to=/path` records a random `state`
//!    (256 bits, single use, 10 minutes) bound to this browser by a cookie and redirects
//!    to WeChat's QR page.
//! 2. The user scans with WeChat; WeChat redirects to the callback with `code` and `state`.
//! 3. The callback takes the state (GETDEL), checks the browser binding, exchanges the code
//!    server-side, reads userinfo, finds or creates the user (or links, when the flow was
//!    started by `POST …/link`), starts an ordinary session and redirects to `return_to`
//!    with a one-time code in the fragment (`#wechat_code=…`).
//! 4. The web page posts that code to `…/exchange` within 60 s and receives the usual token
//!    pair. Tokens never appear in a URL, so no server or proxy log holds them.

pub mod accounts;
pub mod binding;
pub mod client;
pub mod state;

use shared::{ApiError, Code};

use crate::config::WeChatSettings;
use crate::domain::ReturnTo;
use client::WeChatClient;
use state::FlowStore;

/// Everything WeChat sign-in needs, present when `WECHAT_APPID` is configured.
pub struct WeChat {
    settings: WeChatSettings,
    client: WeChatClient,
    flows: FlowStore,
}

impl WeChat {
    pub fn new(settings: WeChatSettings, flows: FlowStore) -> anyhow::Result<Self> {
        Ok(Self {
            client: WeChatClient::new(&settings)?,
            settings,
            flows,
        })
    }

    pub fn client(&self) -> &WeChatClient {
        &self.client
    }

    pub fn flows(&self) -> &FlowStore {
        &self.flows
    }

    /// Whether the state cookie must be `Secure` (the public callback is HTTPS).
    pub fn secure_cookie(&self) -> bool {
        self.settings.redirect_uri.starts_with("https://")
    }

    /// WeChat's QR connect page for `state`.
    pub fn qrconnect_url(&self, state: &str) -> String {
        let query = serde_urlencoded::to_string([
            ("appid", self.settings.appid.as_str()),
            ("redirect_uri", self.settings.redirect_uri.as_str()),
            ("response_type", "code"),
            ("scope", "snsapi_login"),
            ("state", state),
        ])
        .unwrap_or_default();
        format!(
            "{}/connect/qrconnect?{query}#wechat_redirect",
            self.settings.open_base
        )
    }
}

/// The 501 of every WeChat route on a server without `WECHAT_APPID`.
pub fn not_configured() -> ApiError {
    ApiError::new(
        Code::WechatNotConfigured,
        "Sign-in with WeChat is not enabled on this server.",
    )
}

/// `return_to` from the query: a same-site path, `/` when absent.
pub fn parse_return_to(raw: Option<&str>) -> Result<ReturnTo, ApiError> {
    match raw {
        None => Ok(ReturnTo::root()),
        Some(raw) => ReturnTo::parse(raw).map_err(|why| {
            ApiError::new(Code::InvalidReturnTo, format!("return_to {why}."))
                .with_details(serde_json::json!({ "parameter": "return_to" }))
        }),
    }
}
