//! Which clone `cargo xtask` works on. The root is found at run time from the current
//! directory, never from where the xtask binary was compiled: clones that share a
//! `CARGO_TARGET_DIR` share the binary too, and each must still run against its own
//! `data/`, `web/`, `docs/` and `nginx/`.

use std::path::{Path, PathBuf};

use crate::Result;

/// Files a Waypoint workspace root has, besides its `Cargo.toml` with `[workspace]`.
const MARKERS: [&str; 2] = ["xtask/Cargo.toml", "nginx/waypoint.conf.template"];

/// The nearest directory at or above `start` whose `Cargo.toml` declares a `[workspace]`,
/// which must be Waypoint's (a workspace holding `xtask/` and `nginx/`).
pub fn find_root(start: &Path) -> Result<PathBuf> {
    let start = start
        .canonicalize()
        .map_err(|e| format!("{}: {e}", start.display()))?;
    let root = start
        .ancestors()
        .find(|dir| declares_workspace(&dir.join("Cargo.toml")))
        .ok_or_else(|| {
            format!(
                "{} is not inside a Cargo workspace: run cargo xtask inside a Waypoint clone",
                start.display()
            )
        })?;
    match MARKERS.iter().find(|marker| !root.join(marker).is_file()) {
        None => Ok(root.to_owned()),
        Some(missing) => Err(format!(
            "{} is a Cargo workspace but not Waypoint's (it has no {missing}): \
             run cargo xtask inside a Waypoint clone",
            root.display()
        )),
    }
}

/// The root of the clone the current directory is in.
pub fn current_root() -> Result<PathBuf> {
    let here = std::env::current_dir().map_err(|e| format!("the current directory: {e}"))?;
    find_root(&here)
}

/// Where `cargo xtask up` keeps the clone's state.
pub fn data_dir(root: &Path) -> PathBuf {
    root.join("data")
}

fn declares_workspace(manifest: &Path) -> bool {
    std::fs::read_to_string(manifest)
        .is_ok_and(|text| text.lines().any(|line| line.trim() == "[workspace]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fake_clone::fake_clone;

    fn temp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
    }

    #[test]
    fn two_clones_have_two_roots() {
        let tmp = temp();
        let one = fake_clone(tmp.path(), "one");
        let two = fake_clone(tmp.path(), "two");
        assert_eq!(find_root(&one), Ok(one.clone()));
        assert_eq!(find_root(&two), Ok(two.clone()));
        assert_ne!(one.join("data"), two.join("data"));
    }

    #[test]
    fn found_from_a_subdirectory_and_through_member_manifests() {
        let tmp = temp();
        let clone = fake_clone(tmp.path(), "clone");
        // xtask/Cargo.toml has no [workspace]: the search goes on up to the root.
        assert_eq!(find_root(&clone.join("xtask/src")), Ok(clone.clone()));
        assert_eq!(find_root(&clone.join("web/src")), Ok(clone));
    }

    #[test]
    fn another_workspace_is_refused() {
        let tmp = temp();
        let other = tmp.path().join("other");
        std::fs::create_dir_all(other.join("src")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(other.join("Cargo.toml"), "[workspace]\nmembers = []\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let err = find_root(&other.join("src")).err().unwrap_or_default();
        assert!(err.contains("not Waypoint's"), "{err}");
    }

    #[test]
    fn outside_any_workspace_is_refused() {
        let tmp = temp();
        let err = find_root(tmp.path()).err().unwrap_or_default();
        assert!(err.contains("not inside a Cargo workspace"), "{err}");
    }
}
