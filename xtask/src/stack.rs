//! The whole of Waypoint on loopback: Redis, every service (`Options::replicas` replicas of
//! each, on ports of their own; at least one chat-service replica per gateway), two gateway
//! replicas given every service's replica list, the fake Alipay and WeChat, and nginx in
//! front serving the web UI. Replicas of a service start one after another, each once the
//! previous one is ready: the first migrates its database and seeds, the others find that
//! done. `cargo xtask up` runs it on port 8080 with `./data`; `cargo xtask e2e`
//! runs it on a free port with a throwaway data directory.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::install::{self, NGINX, REDIS};
use crate::procs::{Procs, free_port, http, http_with, run as exec, wait_ready};
use crate::{Result, cargo};

pub const SERVICES: [&str; 8] = [
    "auth-service",
    "rbac-service",
    "chat-service",
    "recommend-service",
    "payment-service",
    "fake-alipay",
    "fake-wechat",
    "gateway",
];
const GATEWAY_REPLICAS: usize = 2;

pub struct Options {
    /// Redis's dump, the SQLite files, keys and generated credentials live here.
    pub data: PathBuf,
    /// nginx listens on 127.0.0.1 here.
    pub http_port: u16,
    /// Extra environment for the gateway replicas.
    pub gateway_env: Vec<(String, String)>,
    /// Extra environment for every service and gateway.
    pub service_env: Vec<(String, String)>,
    /// Replicas of each service (`cargo xtask up --replicas N`, default 2).
    pub replicas: usize,
}

/// A replica list setting's value (`*_SERVICE_URL`): the base URLs separated by `|`.
pub fn replica_list(ports: &[u16]) -> String {
    ports
        .iter()
        .map(|port| format!("http://127.0.0.1:{port}"))
        .collect::<Vec<_>>()
        .join("|")
}

/// Starts `count` replicas of `service` (named `name-1`, `name-2`, … once there are
/// several) one after another, each once the previous one answers `/readyz`; their ports.
fn start_replicas(
    procs: &mut Procs,
    metrics: &mut Vec<(String, u16)>,
    (service, name, count): (&str, &str, usize),
    command: impl Fn(u16) -> Command,
) -> Result<Vec<u16>> {
    let mut ports = Vec::new();
    for replica in 1..=count.max(1) {
        let port = free_port()?;
        let mut started = command(port);
        let name = if count > 1 {
            format!("{name}-{replica}")
        } else {
            name.to_owned()
        };
        metrics_listener(&mut started, &name, metrics)?;
        procs.spawn(&name, started)?;
        wait_ready(service, port, "/readyz", procs)?;
        ports.push(port);
    }
    Ok(ports)
}

/// A running stack; dropping it stops every process.
pub struct Stack {
    pub procs: Procs,
    pub http_port: u16,
    /// The super_admin's account and password.
    pub admin: (String, String),
    /// The demo traveller's account and password.
    pub demo: (String, String),
    /// Every process's metrics listener: (process name, port).
    pub metrics: Vec<(String, u16)>,
}

/// Gives `command` (the process `name`) a metrics listener of its own on a free port.
fn metrics_listener(
    command: &mut Command,
    name: &str,
    targets: &mut Vec<(String, u16)>,
) -> Result<()> {
    let port = free_port()?;
    command.env("METRICS_ADDR", format!("127.0.0.1:{port}"));
    targets.push((name.to_owned(), port));
    Ok(())
}

/// Builds every server (debug) and the API docs' assets; returns where the binaries are.
pub fn build(root: &Path) -> Result<PathBuf> {
    build_with(root, "dev", &[])
}

/// [`build`] with a cargo profile (`dev`, `release`) and more binaries to build.
pub fn build_with(root: &Path, profile: &str, more_bins: &[&str]) -> Result<PathBuf> {
    install::ensure(&[REDIS, NGINX], |t| install::on_path(t.program))?;
    eprintln!("xtask: building {} ({profile})", SERVICES.join(", "));
    // The servers apart from the rest: built together, cargo would unify the features of
    // the other binaries' dependencies (e.g. `shared/testing`) into the servers.
    for bins in [&SERVICES[..], more_bins] {
        if bins.is_empty() {
            continue;
        }
        let mut build = Command::new(cargo());
        build
            .current_dir(root)
            .args(["build", "--profile", profile]);
        for bin in bins {
            build.args(["--bin", bin]);
        }
        exec(build)?;
    }
    crate::web::install_docs_assets(root);
    let dir = if profile == "dev" { "debug" } else { profile };
    Ok(target_dir(root).join(dir))
}

/// Starts everything (`procs` decides where their output goes), waits until each answers,
/// and seeds the demo data.
pub fn start(root: &Path, bin: &Path, options: &Options, mut procs: Procs) -> Result<Stack> {
    let data = &options.data;
    let http_port = options.http_port;
    for dir in ["redis", "nginx/tmp"] {
        std::fs::create_dir_all(data.join(dir))
            .map_err(|e| format!("creating {}/{dir}: {e}", data.display()))?;
    }
    let redis_port = free_port()?;
    let mut redis = Command::new("redis-server");
    redis
        .args([
            "--port",
            &redis_port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "60 1",
        ])
        .args(["--appendonly", "no", "--protected-mode", "yes", "--dir"])
        .arg(data.join("redis"));
    procs.spawn("redis", redis)?;
    wait_redis(redis_port)?;

    let service = |name: &str, port: u16| {
        let mut command = Command::new(bin.join(name));
        command
            .current_dir(root)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("WAYPOINT_DATA_DIR", data)
            .env("REDIS_URL", format!("redis://127.0.0.1:{redis_port}"))
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .envs(options.service_env.iter().cloned());
        command
    };
    let mut metrics = Vec::new();
    let admin = admin_account(data)?;
    let replicas = options.replicas;
    let wechat = wechat_env(bin, data, http_port, &mut procs)?;
    let auth_ports = start_replicas(
        &mut procs,
        &mut metrics,
        ("auth-service", "auth", replicas),
        |port| {
            let mut auth = service("auth-service", port);
            auth.env("WAYPOINT_ADMIN_ACCOUNT", &admin.0)
                .env("WAYPOINT_ADMIN_PASSWORD", &admin.1)
                .envs(wechat.iter().cloned());
            auth
        },
    )?;
    let auth_url = replica_list(&auth_ports);

    let rbac_ports = start_replicas(
        &mut procs,
        &mut metrics,
        ("rbac-service", "rbac", replicas),
        |port| {
            let mut rbac = service("rbac-service", port);
            rbac.env("AUTH_SERVICE_URL", &auth_url)
                .env("WAYPOINT_ADMIN_ACCOUNT", &admin.0);
            rbac
        },
    )?;
    let rbac_url = replica_list(&rbac_ports);

    let recommend_ports = start_replicas(
        &mut procs,
        &mut metrics,
        ("recommend-service", "recommend", replicas),
        |port| service("recommend-service", port),
    )?;
    let recommend_url = replica_list(&recommend_ports);

    // The fake Alipay and payment-service share key pairs generated once under data/alipay.
    let alipay_keys = data.join("alipay");
    exec({
        let mut keys = Command::new(bin.join("fake-alipay"));
        keys.arg("keys").arg(&alipay_keys);
        keys
    })?;
    let alipay_port = free_port()?;
    let mut alipay = service("fake-alipay", alipay_port);
    alipay
        .env("FAKE_ALIPAY_BIND", format!("127.0.0.1:{alipay_port}"))
        .env("FAKE_ALIPAY_KEY_DIR", &alipay_keys);
    procs.spawn("alipay", alipay)?;
    wait_ready("fake-alipay", alipay_port, "/healthz", &mut procs)?;
    let public = format!("http://127.0.0.1:{http_port}/v1/payments/alipay");
    let payment_ports = start_replicas(
        &mut procs,
        &mut metrics,
        ("payment-service", "payment", replicas),
        |port| {
            let mut payment = service("payment-service", port);
            payment
                .env(
                    "ALIPAY_GATEWAY_URL",
                    format!("http://127.0.0.1:{alipay_port}/gateway.do"),
                )
                .env("ALIPAY_NOTIFY_URL", format!("{public}/notify"))
                .env("ALIPAY_RETURN_URL", format!("{public}/return"))
                .env("RECOMMEND_SERVICE_URL", &recommend_url);
            payment
        },
    )?;

    // Never fewer chat replicas than gateways: a message crossing replicas is the case
    // the fan-out exists for.
    let chat_ports = start_replicas(
        &mut procs,
        &mut metrics,
        ("chat-service", "chat", replicas.max(GATEWAY_REPLICAS)),
        |port| {
            let mut chat = service("chat-service", port);
            chat.env("AUTH_SERVICE_URL", &auth_url)
                .env("RBAC_SERVICE_URL", &rbac_url)
                .env(
                    "CHAT_ALLOWED_ORIGINS",
                    format!("http://127.0.0.1:{http_port},http://localhost:{http_port}"),
                );
            chat
        },
    )?;

    let mut gateway_ports = Vec::new();
    for replica in 1..=GATEWAY_REPLICAS {
        let port = free_port()?;
        let mut gateway = service("gateway", port);
        gateway
            .env("AUTH_SERVICE_URL", &auth_url)
            .env("RBAC_SERVICE_URL", &rbac_url)
            .env("PAYMENT_SERVICE_URL", replica_list(&payment_ports))
            .env("RECOMMEND_SERVICE_URL", &recommend_url)
            .env("DOCS_DIR", root.join("docs"))
            .env("CHAT_SERVICE_URL", replica_list(&chat_ports))
            // nginx reaches the gateways over loopback, from 127.0.0.1.
            .env("TRUSTED_PROXIES", "127.0.0.1/32")
            .envs(options.gateway_env.iter().cloned());
        metrics_listener(&mut gateway, &format!("gateway-{replica}"), &mut metrics)?;
        procs.spawn(&format!("gateway-{replica}"), gateway)?;
        wait_ready("gateway", port, "/readyz", &mut procs)?;
        gateway_ports.push(port);
    }

    let conf = write_nginx_conf(root, data, http_port, &gateway_ports)?;
    let mut nginx = Command::new(if install::on_path("nginx") {
        "nginx"
    } else {
        "/usr/sbin/nginx"
    });
    nginx
        .arg("-p")
        .arg(data.join("nginx"))
        .arg("-c")
        .arg(&conf)
        .args(["-e", "stderr", "-g", "daemon off;"]);
    procs.spawn("nginx", nginx)?;
    wait_ready("nginx", http_port, "/readyz", &mut procs)?;

    let demo = seed_demo_traveller(data, http_port)?;
    crate::seed_trips::seed(data, recommend_ports[0], http_port, (&demo.0, &demo.1))?;
    Ok(Stack {
        procs,
        http_port,
        admin,
        demo,
        metrics,
    })
}

/// A stack on a free port with a fresh data directory under the system's temp dir (what
/// the browser tests and the fuzzer run against); the servers' output goes to files in
/// `<data>/logs`.
pub struct Throwaway {
    pub stack: Stack,
    pub data: PathBuf,
    pub logs: PathBuf,
}

impl Throwaway {
    pub fn start(root: &Path, bin: &Path, gateway_env: Vec<(String, String)>) -> Result<Self> {
        let data = temp_dir()?;
        let logs = data.join("logs");
        let options = Options {
            data: data.clone(),
            http_port: free_port()?,
            gateway_env,
            // Three chromium renderers and the fuzzer share two cores with every server
            // here: single-threaded Redis has answered after 200 ms (the default), and
            // the browser test's sign-in got a 503 it cannot retry. These runs test the
            // UI and the API's answers, not Redis' latency (`redis_outage.rs` does).
            service_env: vec![("REDIS_TIMEOUT".into(), "1s".into())],
            // The browser tests and the fuzzer need the services, not their replicas.
            replicas: 1,
        };
        eprintln!("xtask: starting the stack (logs in {})", logs.display());
        let stack = start(root, bin, &options, Procs::logging_to(&logs)?)?;
        Ok(Self { stack, data, logs })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.stack.http_port)
    }

    /// Stops everything; removes the data directory when `outcome` is a success, else
    /// keeps it and says where the logs are.
    pub fn finish(self, outcome: Result) -> Result {
        drop(self.stack);
        match outcome {
            Ok(()) => {
                let _ = std::fs::remove_dir_all(&self.data);
                Ok(())
            }
            Err(err) => Err(format!(
                "{err}\nthe servers' logs are in {}",
                self.logs.display()
            )),
        }
    }
}

/// A fresh directory under the system's temp dir.
pub fn temp_dir() -> Result<PathBuf> {
    let out = Command::new("mktemp")
        .args(["-d", "-t", "waypoint-stack.XXXXXX"])
        .output()
        .map_err(|e| format!("mktemp: {e}"))?;
    if !out.status.success() {
        return Err("mktemp -d failed".into());
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Signs in through nginx and the gateway; the access token.
pub fn login(http_port: u16, account: &str, password: &str) -> Result<String> {
    let body = format!(r#"{{"account":"{account}","password":"{password}"}}"#);
    let (status, answer) = http_with(http_port, "POST", "/v1/auth/login", &[], Some(&body))
        .map_err(|e| format!("{account} login: {e}"))?;
    answer
        .split("\"access_token\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .filter(|_| status == 200)
        .map(str::to_owned)
        .ok_or_else(|| format!("{account} login: {status} {answer}"))
}

pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn wait_redis(port: u16) -> Result {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let pong = TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            s.write_all(b"PING\r\n")?;
            let mut buf = [0u8; 16];
            let n = s.read(&mut buf)?;
            Ok(buf[..n].starts_with(b"+PONG"))
        });
        if matches!(pong, Ok(true)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("redis-server did not start".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Passive health checks on each gateway replica (see `nginx/waypoint.conf.template`).
const GATEWAY_SERVER_PARAMS: &str = "max_fails=2 fail_timeout=2s";

/// Renders `nginx/waypoint.conf.template` into `data/nginx/` with a main config around it.
fn write_nginx_conf(root: &Path, data: &Path, http_port: u16, gateways: &[u16]) -> Result<PathBuf> {
    let template = std::fs::read_to_string(root.join("nginx/waypoint.conf.template"))
        .map_err(|e| format!("reading nginx/waypoint.conf.template: {e}"))?;
    let web_root = [root.join("web/dist"), root.join("nginx/welcome")]
        .into_iter()
        .find(|dir| dir.join("index.html").is_file())
        .ok_or("no web root")?;
    let servers: Vec<String> = gateways
        .iter()
        .map(|p| format!("server 127.0.0.1:{p} {GATEWAY_SERVER_PARAMS};"))
        .collect();
    let site = template
        .replace("${GATEWAY_SERVERS}", &servers.join("\n    "))
        .replace("${LISTEN}", &format!("127.0.0.1:{http_port}"))
        .replace("${WEB_ROOT}", &web_root.display().to_string());
    let nginx_dir = data.join("nginx");
    let tmp = nginx_dir.join("tmp");
    // Workers drop to an unprivileged user when started as root; they write here.
    let _ = exec({
        let mut chmod = Command::new("chmod");
        chmod.arg("0777").arg(&tmp);
        chmod
    });
    let mime = if Path::new("/etc/nginx/mime.types").is_file() {
        "include /etc/nginx/mime.types;".to_owned()
    } else {
        "types { text/html html; text/css css; application/javascript js; image/png png; image/svg+xml svg; }".to_owned()
    };
    let main = format!(
        "worker_processes 2;\npid {pid};\nerror_log stderr warn;\nevents {{ worker_connections 4096; }}\n\
         http {{\n    {mime}\n    default_type application/octet-stream;\n    access_log off;\n    \
         client_body_temp_path {tmp}/body;\n    proxy_temp_path {tmp}/proxy;\n    \
         fastcgi_temp_path {tmp}/fastcgi;\n    uwsgi_temp_path {tmp}/uwsgi;\n    scgi_temp_path {tmp}/scgi;\n\
         {site}}}\n",
        pid = nginx_dir.join("nginx.pid").display(),
        tmp = tmp.display(),
    );
    let conf = nginx_dir.join("nginx.conf");
    std::fs::write(&conf, main).map_err(|e| format!("writing {}: {e}", conf.display()))?;
    Ok(conf)
}

/// Registers the demo traveller once; its password is generated on first run and kept in
/// `data/demo-credentials` (never in the repository).
fn seed_demo_traveller(data: &Path, http_port: u16) -> Result<(String, String)> {
    let password = generated_password(&data.join("demo-credentials"), "demo")?;
    let body = format!(
        r#"{{"account":"demo","name":"Demo Traveller","email":"demo@waypoint.local","password":"{password}"}}"#
    );
    match http(http_port, "POST", "/v1/auth/register", Some(&body)) {
        Ok((201, _)) => eprintln!("xtask: created the demo traveller"),
        Ok((409, _)) => {}
        Ok((status, body)) => return Err(format!("seeding the demo traveller: {status} {body}")),
        Err(err) => return Err(format!("seeding the demo traveller: {err}")),
    }
    Ok(("demo".into(), password))
}

/// The admin: `WAYPOINT_ADMIN_ACCOUNT`/`WAYPOINT_ADMIN_PASSWORD` when set, otherwise
/// `admin` with a password generated on first run into `data/admin-credentials`.
fn admin_account(data: &Path) -> Result<(String, String)> {
    match (
        std::env::var("WAYPOINT_ADMIN_ACCOUNT"),
        std::env::var("WAYPOINT_ADMIN_PASSWORD"),
    ) {
        (Ok(account), Ok(password)) if !account.is_empty() && !password.is_empty() => {
            Ok((account, password))
        }
        _ => Ok((
            "admin".into(),
            generated_password(&data.join("admin-credentials"), "admin")?,
        )),
    }
}

/// A password kept in `file`, generated there on first use (never in the repository).
fn generated_password(file: &Path, prefix: &str) -> Result<String> {
    if let Ok(saved) = std::fs::read_to_string(file) {
        return Ok(saved.trim().to_owned());
    }
    let mut bytes = [0u8; 9];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("reading /dev/urandom: {e}"))?;
    let password = format!(
        "{prefix}-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    std::fs::write(file, &password).map_err(|e| format!("writing {}: {e}", file.display()))?;
    Ok(password)
}

/// WeChat sign-in for auth-service: the real app when `WECHAT_APPID` is set (its `WECHAT_*`
/// variables pass through), else the fake WeChat with an appid and secret generated under
/// `data/`, so the QR flow can be clicked through locally.
fn wechat_env(
    bin: &Path,
    data: &Path,
    http_port: u16,
    procs: &mut Procs,
) -> Result<Vec<(String, String)>> {
    let redirect = format!("http://127.0.0.1:{http_port}/v1/auth/oauth/wechat/callback");
    let redirect = std::env::var("WECHAT_REDIRECT_URI").unwrap_or(redirect);
    if std::env::var("WECHAT_APPID").is_ok_and(|a| !a.is_empty()) {
        return Ok(vec![("WECHAT_REDIRECT_URI".into(), redirect)]);
    }
    let appid = generated_password(&data.join("fake-wechat-appid"), "wx")?;
    let secret = generated_password(&data.join("fake-wechat-secret"), "secret")?;
    let port = free_port()?;
    let mut fake = Command::new(bin.join("fake-wechat"));
    fake.env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("WECHAT_APPID", &appid)
        .env("WECHAT_SECRET", &secret)
        .env("FAKE_WECHAT_CALLBACK_HOST", "127.0.0.1");
    procs.spawn("wechat", fake)?;
    wait_ready("fake-wechat", port, "/healthz", procs)?;
    eprintln!("xtask: no WECHAT_APPID; WeChat sign-in goes to the fake WeChat on port {port}");
    let base = format!("http://127.0.0.1:{port}");
    Ok([
        ("WECHAT_APPID", appid),
        ("WECHAT_SECRET", secret),
        ("WECHAT_OPEN_BASE", base.clone()),
        ("WECHAT_API_BASE", base),
        ("WECHAT_REDIRECT_URI", redirect),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect())
}
