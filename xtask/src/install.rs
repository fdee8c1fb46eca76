//! Installing the Debian packages Waypoint runs on, when they are missing.

use std::process::Command;

use crate::Result;

/// A program and the Debian package that provides it.
pub struct Tool {
    pub program: &'static str,
    pub package: &'static str,
}

pub const REDIS: Tool = Tool {
    program: "redis-server",
    package: "redis-server",
};
pub const NGINX: Tool = Tool {
    program: "nginx",
    package: "nginx",
};
/// Debian's package also brings `promtool`.
pub const PROMETHEUS: Tool = Tool {
    program: "prometheus",
    package: "prometheus",
};
pub const POSTGRES: Tool = Tool {
    program: "initdb",
    package: "postgresql",
};

pub fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    let found = std::env::split_paths(&path).any(|dir| dir.join(program).is_file());
    found
        || ["/usr/sbin", "/sbin"]
            .iter()
            .any(|dir| std::path::Path::new(dir).join(program).is_file())
}

/// Installs the packages of the tools that are missing, with apt-get as root on Debian;
/// elsewhere prints the command to run and fails.
pub fn ensure(tools: &[Tool], found: impl Fn(&Tool) -> bool) -> Result {
    let missing: Vec<&str> = tools
        .iter()
        .filter(|t| !found(t))
        .map(|t| t.package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let command = format!(
        "apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    let is_root = is_root();
    if !(on_path("apt-get") && is_root) {
        return Err(format!(
            "missing {}: install them with\n    sudo {command}",
            missing.join(", ")
        ));
    }
    eprintln!("xtask: installing {}", missing.join(", "));
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive {command} -qq"
        ))
        .status()
        .map_err(|err| format!("apt-get: {err}"))?
        .success();
    if ok {
        Ok(())
    } else {
        Err(format!("`{command}` failed"))
    }
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}
