//! The fake WeChat on its own, for `cargo xtask up` without a real AppID.
//!
//! `BIND_ADDR` (default `127.0.0.1:8110`), `WECHAT_APPID` and `WECHAT_SECRET` (required:
//! the launcher generates them under `data/`), `FAKE_WECHAT_CALLBACK_HOST` (optional: the
//! only host `redirect_uri` may point at).

use fake_wechat::{FakeSettings, FakeWeChat};
use shared::config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init("fake-wechat");
    let required = |name: &str| {
        config::raw(name).ok_or_else(|| anyhow::anyhow!("{name} must be set for the fake WeChat"))
    };
    let settings = FakeSettings {
        appid: required("WECHAT_APPID")?,
        secret: required("WECHAT_SECRET")?,
        with_unionid: true,
        callback_host: config::raw("FAKE_WECHAT_CALLBACK_HOST"),
    };
    let fake = FakeWeChat::start(settings, &config::string("BIND_ADDR", "127.0.0.1:8110"))?;
    tracing::info!(port = fake.port(), "fake WeChat listening");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    fake.stop().await;
    Ok(())
}
