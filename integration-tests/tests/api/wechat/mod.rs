//! Sign-in with WeChat, end to end: browsers (each with its own cookies) talk to nginx in
//! front of both gateways, auth-service talks to the fake WeChat on loopback.

mod failures;
mod linking;
mod sign_in;
mod state;

use std::collections::HashMap;
use std::time::Duration;

use fake_wechat::{FakeSettings, FakeWeChat};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Nginx, Stack, StackOptions};

pub const CALLBACK_PATH: &str = "/v1/auth/oauth/wechat/callback";

/// The stack behind nginx, configured for the fake WeChat.
pub struct World {
    pub stack: Stack,
    pub fake: FakeWeChat,
    pub nginx: Nginx,
}

pub struct WorldOptions {
    pub with_unionid: bool,
    pub timeout: Duration,
    /// The secret auth-service is configured with, when not the fake's own.
    pub secret: Option<String>,
}

impl Default for WorldOptions {
    fn default() -> Self {
        Self {
            with_unionid: true,
            timeout: Duration::from_secs(5),
            secret: None,
        }
    }
}

impl World {
    pub async fn start() -> Self {
        Self::start_with(WorldOptions::default()).await
    }

    pub async fn start_with(options: WorldOptions) -> Self {
        let fake = FakeWeChat::start(
            FakeSettings {
                with_unionid: options.with_unionid,
                callback_host: Some("127.0.0.1".into()),
                ..FakeSettings::random()
            },
            "127.0.0.1:0",
        )
        .unwrap();
        let reservation = shared::testing::ReservedPort::new();
        let port = reservation.port();
        let wechat = auth_service::config::WeChatSettings {
            appid: fake.settings().appid.clone(),
            secret: shared::config::Secret::new(
                options
                    .secret
                    .unwrap_or_else(|| fake.settings().secret.clone()),
            ),
            open_base: fake.base_url(),
            api_base: fake.base_url(),
            redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
            timeout: options.timeout,
        };
        let stack = Stack::start_with(StackOptions {
            wechat: Some(wechat),
            ..Default::default()
        })
        .await;
        let nginx = Nginx::start_on(reservation, &[stack.gw(0), stack.gw(1)]);
        Self { stack, fake, nginx }
    }

    pub fn browser(&self) -> Browser {
        Browser {
            http: self.stack.http.clone(),
            base: self.nginx.base.clone(),
            fake: self.fake.base_url(),
            cookies: HashMap::new(),
            last_set_cookie: Vec::new(),
        }
    }

    /// A full WeChat sign-in in a fresh browser, as WeChat user `who`.
    pub async fn sign_in(&self, who: &str) -> Tokens {
        self.browser().sign_in(who).await
    }

    /// How many accounts exist (the admin included).
    pub async fn user_count(&self) -> i64 {
        let users = self
            .stack
            .admin(Method::GET, "/v1/users", None, StatusCode::OK)
            .await;
        users["count"].as_i64().unwrap()
    }

    /// The Redis key of a state, to inspect or expire it.
    pub fn state_key(&self, state: &str) -> String {
        format!(
            "{}wechat:state:{state}",
            self.stack.redis_settings.key_prefix
        )
    }
}

pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
}

/// An HTTP response reduced to what the tests look at.
pub struct Reply {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: Value,
}

/// A browser: its own cookie jar, no automatic redirects.
pub struct Browser {
    http: reqwest::Client,
    pub base: String,
    fake: String,
    cookies: HashMap<String, String>,
    pub last_set_cookie: Vec<String>,
}

impl Browser {
    /// A request to Waypoint (through nginx) carrying this browser's cookies.
    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> Reply {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let request = if cookie.is_empty() {
            request
        } else {
            request.header(COOKIE, cookie.join("; "))
        };
        let response = request.send().await.expect("request sent");
        self.last_set_cookie = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for set in &self.last_set_cookie {
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.insert(name.to_owned(), value.to_owned());
        }
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap_or_default();
        Reply {
            status,
            location,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }

    pub async fn get(&mut self, path_or_url: &str) -> Reply {
        let url = self.url(path_or_url);
        let request = self.http.get(url);
        self.send(request).await
    }

    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.base)
        }
    }

    /// `authorize` → the URL of WeChat's QR page.
    pub async fn start_sign_in(&mut self, return_to: Option<&str>) -> String {
        let path = match return_to {
            Some(to) => format!(
                "/v1/auth/oauth/wechat/authorize?{}",
                serde_urlencoded::to_string([("return_to", to)]).unwrap()
            ),
            None => "/v1/auth/oauth/wechat/authorize".to_owned(),
        };
        let reply = self.get(&path).await;
        assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
        let location = reply.location.unwrap();
        assert!(
            location.starts_with(&format!("{}/connect/qrconnect?", self.fake)),
            "{location}"
        );
        location
    }

    /// The phone: opens the QR page, then allows (or denies) as WeChat user `who`; returns
    /// the callback URL WeChat sends the browser to.
    pub async fn scan(&mut self, qr_url: &str, who: &str, allow: bool) -> String {
        let page = self.http.get(qr_url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("Scan and allow"), "{html}");
        let query = qr_url
            .split_once('?')
            .unwrap()
            .1
            .trim_end_matches("#wechat_redirect");
        let params: HashMap<String, String> = serde_urlencoded::from_str(query).unwrap();
        assert_eq!(params["response_type"], "code");
        assert_eq!(params["scope"], "snsapi_login");
        let nickname = format!("{who} 的微信");
        let confirm = self
            .http
            .post(format!("{}/connect/confirm", self.fake))
            .form(&[
                ("appid", params["appid"].as_str()),
                ("redirect_uri", params["redirect_uri"].as_str()),
                ("state", params["state"].as_str()),
                ("user", who),
                ("nickname", nickname.as_str()),
                ("action", if allow { "allow" } else { "deny" }),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(confirm.status(), StatusCode::FOUND);
        let callback = confirm.headers()[LOCATION].to_str().unwrap().to_owned();
        assert!(
            callback.starts_with(&format!("{}{CALLBACK_PATH}?", self.base)),
            "{callback}"
        );
        callback
    }

    /// The whole sign-in: authorize, scan, callback, exchange.
    pub async fn sign_in(&mut self, who: &str) -> Tokens {
        let qr = self.start_sign_in(Some("/trips")).await;
        let callback = self.scan(&qr, who, true).await;
        let reply = self.get(&callback).await;
        assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
        let code = handoff_code(&reply.location.unwrap(), "/trips");
        self.exchange(&code).await
    }

    pub async fn exchange(&mut self, code: &str) -> Tokens {
        let reply = self
            .call(
                Method::POST,
                "/v1/auth/oauth/wechat/exchange",
                None,
                Some(json!({ "code": code })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["token_type"], "Bearer");
        Tokens {
            access_token: reply.body["access_token"].as_str().unwrap().to_owned(),
            refresh_token: reply.body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// The signed-in user.
    pub async fn me(&mut self, tokens: &Tokens) -> Value {
        let reply = self
            .call(Method::GET, "/v1/auth/me", Some(&tokens.access_token), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }
}

/// The one-time code in `{return_to}#wechat_code=…`.
pub fn handoff_code(location: &str, return_to: &str) -> String {
    let code = location
        .strip_prefix(&format!("{return_to}#wechat_code="))
        .unwrap_or_else(|| panic!("{location} is not {return_to}#wechat_code=…"));
    assert_eq!(code.len(), 64, "{code}");
    code.to_owned()
}

/// The `state` of a QR page or callback URL.
pub fn state_of(url: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    let query = query.split('#').next().unwrap();
    let params: HashMap<String, String> = serde_urlencoded::from_str(query).unwrap();
    params["state"].clone()
}
