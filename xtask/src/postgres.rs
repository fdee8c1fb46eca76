//! A throwaway PostgreSQL cluster for the test run: its own data directory, a free port,
//! no fsync; removed when dropped. PostgreSQL refuses to run as root, so as root the
//! cluster belongs to the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::Result;
use crate::install::{self, POSTGRES};
use crate::procs::{free_port, run};

pub struct Cluster {
    pub url: String,
    dir: PathBuf,
    server: Child,
}

fn bin_dir() -> Option<PathBuf> {
    if install::on_path("initdb") {
        return Some(PathBuf::new());
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn as_cluster_owner(program: &Path, root: bool) -> Command {
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl Cluster {
    pub fn start() -> Result<Self> {
        install::ensure(&[POSTGRES], |_| bin_dir().is_some())?;
        let bin = bin_dir().ok_or("initdb not found after installing postgresql")?;
        let root = install::is_root();
        let dir = std::env::temp_dir().join(format!("waypoint-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        if root {
            run({
                let mut c = Command::new("chown");
                c.arg("postgres:postgres").arg(&dir);
                c
            })?;
        }
        let data = dir.join("data");
        let mut initdb = as_cluster_owner(&bin.join("initdb"), root);
        initdb
            .args([
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .stdout(std::process::Stdio::null());
        run(initdb)?;
        let port = free_port()?;
        let mut postgres = as_cluster_owner(&bin.join("postgres"), root);
        postgres
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
            ])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=300"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let server = postgres
            .spawn()
            .map_err(|e| format!("starting postgres: {e}"))?;
        let cluster = Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir,
            server,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("postgres did not start".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Accepting connections can precede being ready for queries by a moment.
        std::thread::sleep(Duration::from_millis(500));
        Ok(cluster)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's fast shutdown. It goes to the postmaster itself (its pid
        // is the first line of postmaster.pid), since runuser does not pass signals on.
        let postmaster = std::fs::read_to_string(self.dir.join("data/postmaster.pid"))
            .ok()
            .and_then(|text| {
                text.lines()
                    .next()
                    .and_then(|pid| pid.trim().parse::<libc::pid_t>().ok())
            });
        let pid = postmaster.unwrap_or(self.server.id() as libc::pid_t);
        #[allow(unsafe_code)]
        // SAFETY: signalling the server this launcher started, by its pid.
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
