//! The processes `cargo xtask up` starts: output prefixed with their name, killed with
//! the launcher (also when it dies without cleaning up), stopped in reverse order.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Result;

#[derive(Default)]
pub struct Procs {
    /// Each process with the command that started it (kept to start it again).
    children: Vec<(String, Child, Command)>,
    /// Where output goes instead of the terminal: `<dir>/<name>.log`.
    log_dir: Option<PathBuf>,
}

impl Procs {
    /// Processes whose output goes to files in `dir` rather than to the terminal.
    pub fn logging_to(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        Ok(Self {
            children: Vec::new(),
            log_dir: Some(dir.to_owned()),
        })
    }

    pub fn spawn(&mut self, name: &str, mut command: Command) -> Result {
        command.stdin(Stdio::null());
        match &self.log_dir {
            Some(dir) => {
                let path = dir.join(format!("{name}.log"));
                // Appended to: a restarted process continues its log.
                let log = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| format!("creating {}: {e}", path.display()))?;
                let copy = log
                    .try_clone()
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                command.stdout(log).stderr(copy);
            }
            None => {
                command.stdout(Stdio::piped()).stderr(Stdio::piped());
            }
        }
        // SAFETY: prctl is async-signal-safe; it asks the kernel to kill the child when
        // the launcher dies, so no server outlives an interrupted `cargo xtask up`.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = start(name, &mut command)?;
        self.children.push((name.to_owned(), child, command));
        Ok(())
    }

    /// Stops `name` the way a deploy does (SIGTERM, then waits for it to exit, killing it
    /// after `SHUTDOWN_TIMEOUT` and a margin) and starts it again with the same command;
    /// how long it took to exit.
    pub fn restart(&mut self, name: &str) -> Result<Duration> {
        let (_, child, command) = self
            .children
            .iter_mut()
            .find(|(n, _, _)| n == name)
            .ok_or_else(|| format!("no process named {name}"))?;
        let stopping = Instant::now();
        terminate(child);
        let deadline = stopping + Duration::from_secs(20);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = match child.try_wait() {
            Ok(Some(status)) => status,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{name} did not exit within 20 s of SIGTERM"));
            }
        };
        let took = stopping.elapsed();
        if !status.success() {
            return Err(format!("{name} exited with {status} on SIGTERM"));
        }
        *child = start(name, command)?;
        Ok(took)
    }

    /// The value of `key` in the environment `name` was started with.
    pub fn env_of(&self, name: &str, key: &str) -> Option<String> {
        let (_, _, command) = self.children.iter().find(|(n, _, _)| n == name)?;
        command
            .get_envs()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v?.to_str().map(str::to_owned))
    }

    /// The name of a process that has exited, if any.
    pub fn exited(&mut self) -> Option<String> {
        self.children.iter_mut().find_map(|(name, child, _)| {
            matches!(child.try_wait(), Ok(Some(_))).then(|| name.clone())
        })
    }

    /// SIGTERM to every process at once (each drains for a couple of seconds: stopping
    /// them one by one took a minute), then a shared deadline before the stragglers are
    /// killed.
    pub fn stop_all(&mut self) {
        for (_, child, _) in &self.children {
            terminate(child);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while let Some((name, mut child, _)) = self.children.pop() {
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(child.try_wait(), Ok(None)) {
                eprintln!("xtask: {name} did not stop; killing it");
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        self.stop_all();
    }
}

fn terminate(child: &Child) {
    #[allow(unsafe_code)]
    // SAFETY: signalling our own child by its pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
}

/// Starts `command` (again, on a restart: a `Command` may spawn any number of times).
fn start(name: &str, command: &mut Command) -> Result<Child> {
    let mut child = command
        .spawn()
        .map_err(|err| format!("starting {name}: {err}"))?;
    if let Some(out) = child.stdout.take() {
        prefix_lines(name, out);
    }
    if let Some(err) = child.stderr.take() {
        prefix_lines(name, err);
    }
    Ok(child)
}

fn prefix_lines(name: &str, stream: impl Read + Send + 'static) {
    let label = format!("{name:>10} |");
    std::thread::spawn(move || {
        for line in BufReader::new(stream)
            .lines()
            .map_while(std::result::Result::ok)
        {
            println!("{label} {line}");
        }
    });
}

/// A minimal HTTP/1.1 exchange over loopback (the launcher needs no HTTP client crate).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    http_with(port, method, path, &[], body)
}

/// [`http`] with extra request headers.
pub fn http_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.unwrap_or("");
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Waits until `GET path` answers 200.
pub fn wait_ready(name: &str, port: u16, path: &str, procs: &mut Procs) -> Result {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if matches!(http(port, "GET", path, None), Ok((200, _))) {
            return Ok(());
        }
        if let Some(dead) = procs.exited() {
            return Err(format!(
                "{dead} exited while waiting for {name}; see its output above"
            ));
        }
        if Instant::now() > deadline {
            return Err(format!("{name} did not become ready on port {port}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|err| format!("no free port: {err}"))
}

/// Runs a command to completion, failing on a non-zero exit.
pub fn run(mut command: Command) -> Result {
    let shown = format!("{command:?}");
    let status = command.status().map_err(|err| format!("{shown}: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}
