//! A directory with the files that make it a Waypoint clone for the launcher, and nothing
//! else (shared by the unit tests of `workspace` and the tests of the built binary).

use std::path::{Path, PathBuf};

pub fn fake_clone(parent: &Path, name: &str) -> PathBuf {
    let root = parent.join(name);
    for dir in ["xtask/src", "nginx", "web/src"] {
        std::fs::create_dir_all(root.join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
    }
    let files = [
        ("Cargo.toml", "[workspace]\nmembers = [\"xtask\"]\n"),
        ("xtask/Cargo.toml", "[package]\nname = \"xtask\"\n"),
        ("nginx/waypoint.conf.template", ""),
    ];
    for (file, text) in files {
        std::fs::write(root.join(file), text).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    root.canonicalize()
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}
