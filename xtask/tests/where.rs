//! The built xtask binary, run from two clones that share it (as clones sharing a
//! `CARGO_TARGET_DIR` do), works on each clone's own root and data directory.

mod support {
    pub mod clone;
}

use std::path::Path;
use std::process::Command;

use support::clone::fake_clone;

/// `xtask where` run in `dir`: its exit status and output.
fn run_where(dir: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("where")
        .current_dir(dir)
        // Neither clone is the one the binary was built from: nothing may point back there.
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .unwrap_or_else(|e| panic!("running xtask: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn each_clone_gets_its_own_root_and_data() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let one = fake_clone(tmp.path(), "one");
    let two = fake_clone(tmp.path(), "two");
    for clone in [&one, &two] {
        // From the root and from a subdirectory alike.
        for dir in [clone.clone(), clone.join("web")] {
            let (ok, stdout, stderr) = run_where(&dir);
            assert!(ok, "xtask where in {}: {stderr}", dir.display());
            let expected = format!(
                "root {}\ndata {}\n",
                clone.display(),
                clone.join("data").display()
            );
            assert_eq!(stdout, expected, "run in {}", dir.display());
        }
    }
}

#[test]
fn outside_a_waypoint_clone_it_refuses_to_run() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let (ok, stdout, stderr) = run_where(tmp.path());
    assert!(!ok, "xtask where succeeded outside a clone: {stdout}");
    assert!(stderr.contains("Waypoint clone"), "{stderr}");
}
