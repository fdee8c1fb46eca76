//! A stand-in for WeChat's website-app sign-in (OAuth 2.0 "QR connect"), speaking the
//! real protocol on loopback, for tests and for `cargo xtask up` without a real AppID.
//!
//! - `GET /connect/qrconnect?appid&redirect_uri&response_type=code&scope=snsapi_login&state`
//!   shows a page standing in for the QR code: whoever "scans" types a WeChat user name
//!   and presses *Scan and allow* (or *Deny*), and the browser goes back to `redirect_uri`
//!   with `code` and `state` (or only `state`).
//! - `GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code`:
//!   codes are single use and live 10 minutes; errcodes 40013 (appid), 40125 (secret),
//!   40029 (invalid code), 40163 (code already used), 41008 (no code). Served as
//!   `text/plain`, as WeChat sometimes does.
//! - `GET /sns/userinfo?access_token&openid`: nickname, headimgurl, openid, unionid.
//!
//! A person is a name typed on the page: the openid is derived from (appid, name) and the
//! unionid from the name alone, as WeChat scopes them. Tests can make the API hang or fail.

mod api;
mod pages;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use sha2::{Digest, Sha256};

/// How long an authorization code may be exchanged.
pub const CODE_TTL: Duration = Duration::from_secs(10 * 60);
const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(2 * 3600);

#[derive(Debug, Clone)]
pub struct FakeSettings {
    pub appid: String,
    pub secret: String,
    /// Whether answers carry a `unionid` (an app bound to an open-platform account).
    pub with_unionid: bool,
    /// When set, `redirect_uri` must point at this host (WeChat's registered callback domain).
    pub callback_host: Option<String>,
}

impl FakeSettings {
    /// A fresh app with a random appid and secret.
    pub fn random() -> Self {
        Self {
            appid: format!("wx{}", shared::random::token_hex(8)),
            secret: shared::random::token_hex(16),
            with_unionid: true,
            callback_host: None,
        }
    }
}

/// How the API endpoints (`/sns/…`) behave, for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Accept the connection and never answer (WeChat too slow).
    Hang,
    /// Answer every call with this errcode (e.g. -1, system busy).
    Fail(i64),
}

/// A person who scanned the QR code.
#[derive(Debug, Clone)]
struct Person {
    openid: String,
    unionid: Option<String>,
    nickname: String,
}

struct Grant {
    person: Person,
    issued: Instant,
    used: bool,
}

pub(crate) struct State {
    settings: FakeSettings,
    mode: Mutex<Mode>,
    codes: Mutex<HashMap<String, Grant>>,
    tokens: Mutex<HashMap<String, (Person, Instant)>>,
}

impl State {
    fn person(&self, user: &str, nickname: &str) -> Person {
        let digest = |text: String| hex::encode(Sha256::digest(text.as_bytes()));
        Person {
            openid: format!(
                "o{}",
                &digest(format!("{}:{user}", self.settings.appid))[..27]
            ),
            unionid: self
                .settings
                .with_unionid
                .then(|| format!("u{}", &digest(format!("union:{user}"))[..27])),
            nickname: nickname.to_owned(),
        }
    }

    fn mode(&self) -> Mode {
        self.mode.lock().map(|m| *m).unwrap_or(Mode::Normal)
    }

    fn issue_code(&self, person: Person) -> String {
        let code = shared::random::token_hex(16);
        if let Ok(mut codes) = self.codes.lock() {
            // Used codes are kept until they expire, to answer 40163 rather than 40029.
            codes.retain(|_, grant| grant.issued.elapsed() < CODE_TTL);
            codes.insert(
                code.clone(),
                Grant {
                    person,
                    issued: Instant::now(),
                    used: false,
                },
            );
        }
        code
    }
}

pub struct FakeWeChat {
    port: u16,
    handle: ServerHandle,
    state: web::Data<State>,
}

impl FakeWeChat {
    /// Serves on `bind_addr` (`127.0.0.1:0` for a free port) from the current Tokio runtime.
    pub fn start(settings: FakeSettings, bind_addr: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(bind_addr)?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(State {
            settings,
            mode: Mutex::new(Mode::Normal),
            codes: Mutex::default(),
            tokens: Mutex::default(),
        });
        let data = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(
                    "/healthz",
                    web::get().to(|| async { actix_web::HttpResponse::Ok().body("ok") }),
                )
                .route("/connect/qrconnect", web::get().to(pages::qrconnect))
                .route("/connect/confirm", web::post().to(pages::confirm))
                .route("/sns/oauth2/access_token", web::get().to(api::access_token))
                .route("/sns/userinfo", web::get().to(api::userinfo))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self {
            port,
            handle,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn settings(&self) -> &FakeSettings {
        &self.state.settings
    }

    pub fn set_mode(&self, mode: Mode) {
        if let Ok(mut current) = self.state.mode.lock() {
            *current = mode;
        }
    }

    /// Stops serving: afterwards connections are refused (WeChat down).
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}
