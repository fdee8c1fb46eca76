//! `cargo xtask up`: build, then run Redis, every service, two gateway replicas (each with
//! its own chat-service replica behind it) and nginx in the foreground; seed demo data;
//! stop everything on Ctrl-C or SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::install::{self, NGINX, REDIS};
use crate::procs::{Procs, free_port, http, run as exec, wait_ready};
use crate::{Result, cargo, root};

const SERVICES: [&str; 3] = ["auth-service", "chat-service", "gateway"];
const GATEWAY_REPLICAS: usize = 2;
/// One chat-service replica behind each gateway replica.
const CHAT_REPLICAS: usize = GATEWAY_REPLICAS;

pub fn run(args: &[String]) -> Result {
    if let Some(arg) = args.first() {
        return Err(format!("`cargo xtask up` takes no arguments (got {arg})"));
    }
    install::ensure(&[REDIS, NGINX], |t| install::on_path(t.program))?;
    let root = root();
    eprintln!("xtask: building {}", SERVICES.join(", "));
    let mut build = Command::new(cargo());
    build.current_dir(&root).args(["build", "--bins"]);
    for service in SERVICES {
        build.args(["-p", service]);
    }
    exec(build)?;
    let bin = target_dir(&root).join("debug");

    let data = root.join("data");
    for dir in ["redis", "nginx/tmp"] {
        std::fs::create_dir_all(data.join(dir)).map_err(|e| format!("creating data/{dir}: {e}"))?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| format!("signal handler: {e}"))?;

    let mut procs = Procs::default();
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
            .current_dir(&root)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("WAYPOINT_DATA_DIR", &data)
            .env("REDIS_URL", format!("redis://127.0.0.1:{redis_port}"))
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            );
        command
    };
    let auth_port = free_port()?;
    procs.spawn("auth", service("auth-service", auth_port))?;
    wait_ready("auth-service", auth_port, "/readyz", &mut procs)?;

    let http_port: u16 = std::env::var("WAYPOINT_HTTP_PORT")
        .ok()
        .map(|p| {
            p.parse()
                .map_err(|_| format!("WAYPOINT_HTTP_PORT={p} is not a port"))
        })
        .transpose()?
        .unwrap_or(8080);

    let mut chat_ports = Vec::new();
    for replica in 1..=CHAT_REPLICAS {
        let port = free_port()?;
        let mut chat = service("chat-service", port);
        chat.env("AUTH_SERVICE_URL", format!("http://127.0.0.1:{auth_port}"))
            .env(
                "CHAT_ALLOWED_ORIGINS",
                format!("http://127.0.0.1:{http_port},http://localhost:{http_port}"),
            );
        procs.spawn(&format!("chat-{replica}"), chat)?;
        wait_ready("chat-service", port, "/readyz", &mut procs)?;
        chat_ports.push(port);
    }

    let mut gateway_ports = Vec::new();
    for replica in 1..=GATEWAY_REPLICAS {
        let port = free_port()?;
        let mut gateway = service("gateway", port);
        gateway
            .env("AUTH_SERVICE_URL", format!("http://127.0.0.1:{auth_port}"))
            .env(
                "CHAT_SERVICE_URL",
                format!("http://127.0.0.1:{}", chat_ports[replica - 1]),
            )
            .env("TRUSTED_PROXIES", "1");
        procs.spawn(&format!("gateway-{replica}"), gateway)?;
        wait_ready("gateway", port, "/readyz", &mut procs)?;
        gateway_ports.push(port);
    }

    let conf = write_nginx_conf(&root, &data, http_port, &gateway_ports)?;
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

    let demo = seed_demo_traveller(&data, http_port)?;
    println!(
        "\n  Waypoint is running at http://127.0.0.1:{http_port}/\n\
         \n  demo traveller   account: {}   password: {}\n{}\
         \n  Data lives in ./data. Press Ctrl-C to stop.\n",
        demo.0,
        demo.1,
        admin_line()
    );

    while !stop.load(Ordering::SeqCst) {
        if let Some(name) = procs.exited() {
            procs.stop_all();
            return Err(format!(
                "{name} exited unexpectedly; everything was stopped"
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("\nxtask: stopping");
    procs.stop_all();
    Ok(())
}

fn target_dir(root: &Path) -> PathBuf {
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
        .map(|p| format!("server 127.0.0.1:{p};"))
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
    let file = data.join("demo-credentials");
    let password = match std::fs::read_to_string(&file) {
        Ok(saved) => saved.trim().to_owned(),
        Err(_) => {
            let mut bytes = [0u8; 9];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut bytes))
                .map_err(|e| format!("reading /dev/urandom: {e}"))?;
            let password: String = format!(
                "demo-{}",
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
            );
            std::fs::write(&file, &password)
                .map_err(|e| format!("writing {}: {e}", file.display()))?;
            password
        }
    };
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

fn admin_line() -> String {
    match std::env::var("WAYPOINT_ADMIN_ACCOUNT") {
        Ok(account) if !account.is_empty() => {
            format!("  admin            account: {account}   password: from WAYPOINT_ADMIN_PASSWORD\n")
        }
        _ => "  (no admin: set WAYPOINT_ADMIN_ACCOUNT and WAYPOINT_ADMIN_PASSWORD before the first start)\n".into(),
    }
}
