//! `fake-alipay keys [DIR]`: generate the local key pairs (once) under DIR (default
//! `data/alipay`): `app-private.pem` / `app-public.pem` (the merchant's, used by
//! payment-service) and `alipay-private.pem` / `alipay-public.pem` (the fake Alipay's).
//!
//! `fake-alipay` (or `fake-alipay serve`): run the fake gateway on `FAKE_ALIPAY_BIND`
//! (default `127.0.0.1:8106`) with the keys of `FAKE_ALIPAY_KEY_DIR` (default
//! `data/alipay`), for `ALIPAY_APP_ID` / `ALIPAY_SELLER_ID` (defaults as payment-service's).

use std::path::{Path, PathBuf};

use fake_alipay::{FakeAlipay, FakeConfig, keys};

fn main() -> anyhow::Result<()> {
    shared::telemetry::init("fake-alipay");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let default_dir = shared::config::data_dir().join("alipay");
    match args.first().map(String::as_str) {
        Some("keys") => generate(&args.get(1).map(PathBuf::from).unwrap_or(default_dir)),
        None | Some("serve") => serve(
            &shared::config::raw("FAKE_ALIPAY_KEY_DIR")
                .map(PathBuf::from)
                .unwrap_or(default_dir),
        ),
        Some(other) => anyhow::bail!("usage: fake-alipay [serve | keys [DIR]] (got {other})"),
    }
}

fn generate(dir: &Path) -> anyhow::Result<()> {
    for who in ["app", "alipay"] {
        let private = dir.join(format!("{who}-private.pem"));
        if !private.exists() {
            shared::config::write_once(&private, keys::generate_private_pem()?.as_bytes())?;
        }
        let signer = keys::Signer::from_pem(&std::fs::read_to_string(&private)?)?;
        shared::config::write_once(
            &dir.join(format!("{who}-public.pem")),
            signer.public_pem()?.as_bytes(),
        )?;
    }
    eprintln!("fake-alipay: keys in {}", dir.display());
    Ok(())
}

#[tokio::main]
async fn serve(dir: &Path) -> anyhow::Result<()> {
    generate(dir)?;
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|err| anyhow::anyhow!("{}: {err}", dir.join(name).display()))
    };
    let mut config = FakeConfig::new(read("app-public.pem")?, read("alipay-private.pem")?);
    config.bind_addr = shared::config::string("FAKE_ALIPAY_BIND", "127.0.0.1:8106");
    config.app_id = shared::config::string("ALIPAY_APP_ID", &config.app_id);
    config.seller_id = shared::config::string("ALIPAY_SELLER_ID", &config.seller_id);
    config.retry_delay = std::time::Duration::from_secs(2);
    let fake = FakeAlipay::start(config)?;
    tracing::info!(gateway = %fake.gateway_url(), "fake Alipay listening");
    // Ctrl-C, or SIGTERM from `cargo xtask up` stopping everything.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = term.recv() => {}
    }
    drop(fake);
    Ok(())
}
