//! Helpers shared by the project's integration tests (dev-dependency only).
//!
//! Tests wait for conditions with a deadline, never for a fixed time, and
//! check the mount table to prove they leave nothing mounted. [`pty`]
//! runs a program on a terminal that the test can hang up. Tests that
//! start other packages' binaries get them built by [`workspace_bins`], so
//! `cargo test -p PACKAGE` works alone on a fresh clone.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub mod pty;

pub use fuse_fs::mount::detach;
pub use fuse_fs::mountinfo::{is_mounted, mount_points, mounts_under};
/// The tests' random choices come from the emulator's one seeded
/// generator: a test that prints its seed can be repeated exactly.
pub use itc_emu::Rng;

/// Wait until `f` holds or `timeout` passes; returns whether it held.
/// Polls with a backoff from 1 ms to 25 ms.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

/// The value of `key` in a file of `key: value` lines (the tree's status
/// files); empty when the file cannot be read or has no such line.
pub fn status_value(file: &Path, key: &str) -> String {
    let text = fs::read_to_string(file).unwrap_or_default();
    let prefix = format!("{key}: ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .unwrap_or_default()
}

/// Lazily unmount everything mounted at or below `dir`, for guards that
/// clean up after a test; returns what was mounted there.
pub fn unmount_all_under(dir: &Path) -> Vec<PathBuf> {
    let mounted = mounts_under(dir);
    for m in &mounted {
        // A parent's lazy unmount takes its children along; they are then
        // no longer mounted, which is success.
        let _ = detach(m);
    }
    mounted
}

/// Makes sure the binaries `wanted` (`(package, binary)` pairs of this
/// workspace) are built and up to date in `exe_dir`, the directory of a
/// binary cargo built for the running test (the directory of
/// `env!("CARGO_BIN_EXE_...")`), and returns their paths in order.
///
/// Cargo builds only the binaries of the package under test, so
/// `cargo test -p tile-sim` alone would find no `itcd`. This runs
/// `cargo build -p PACKAGE --bin BINARY ...` in the same target directory
/// and profile (and `--target`, if the layout has one), once per test
/// process; when nothing changed, that is a quick no-op. Panics with
/// cargo's output, and what to run instead, if the build fails.
pub fn workspace_bins(exe_dir: &Path, wanted: &[(&str, &str)]) -> Vec<PathBuf> {
    // What this test process built already. One build at a time here;
    // cargo's own lock orders the builds of test processes side by side.
    static BUILT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let paths: Vec<PathBuf> = wanted.iter().map(|(_, b)| exe_dir.join(b)).collect();
    if paths.iter().all(|p| built.contains(p)) {
        return paths;
    }
    let layout = Layout::of(exe_dir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("build")
        .arg("--profile")
        .arg(&layout.profile)
        .arg("--target-dir")
        .arg(&layout.target_dir);
    if let Some(triple) = &layout.triple {
        cmd.arg("--target").arg(triple);
    }
    for (package, binary) in wanted {
        cmd.args(["-p", package, "--bin", binary]);
    }
    let shown = format!("{cmd:?}");
    let failed = |why: String| -> ! {
        panic!(
            "the tests need {names} in {dir}, and building them failed: {why}\n\
             command: {shown}\n\
             build them first (cargo build --workspace), or run cargo test --workspace",
            names = wanted
                .iter()
                .map(|(_, b)| *b)
                .collect::<Vec<_>>()
                .join(" and "),
            dir = exe_dir.display(),
        )
    };
    match cmd.output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => failed(format!(
            "cargo {}:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) => failed(format!("cannot run {}: {e}", Path::new(&cargo).display())),
    }
    if let Some(missing) = paths.iter().find(|p| !p.is_file()) {
        failed(format!(
            "cargo succeeded but {} is not there (an unusual target directory layout?)",
            missing.display()
        ));
    }
    built.extend(paths.iter().cloned());
    paths
}

/// Where cargo put a test's binaries: `TARGET_DIR[/TRIPLE]/PROFILE_DIR`.
#[derive(Debug, PartialEq, Eq)]
struct Layout {
    target_dir: PathBuf,
    triple: Option<String>,
    /// The profile's name (`dev` builds into `debug`).
    profile: String,
}

impl Layout {
    /// Reads the layout from the directory of the binaries. The target
    /// directory is the one holding cargo's `CACHEDIR.TAG`.
    fn of(exe_dir: &Path) -> Layout {
        let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
        let profile_dir = name(exe_dir).unwrap_or_else(|| "debug".to_string());
        let profile = match profile_dir.as_str() {
            "debug" => "dev".to_string(),
            other => other.to_string(),
        };
        let up = exe_dir.parent().unwrap_or(exe_dir);
        let tagged = |p: &Path| p.join("CACHEDIR.TAG").is_file();
        match up.parent() {
            Some(top) if !tagged(up) && tagged(top) => Layout {
                target_dir: top.to_path_buf(),
                triple: name(up),
                profile,
            },
            _ => Layout {
                target_dir: up.to_path_buf(),
                triple: None,
                profile,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_for_reports_whether_the_condition_held() {
        let mut n = 0;
        assert!(wait_for(Duration::from_secs(5), || {
            n += 1;
            n == 3
        }));
        assert!(!wait_for(Duration::from_millis(20), || false));
    }

    #[test]
    fn status_value_finds_the_key_or_nothing() {
        let file = std::env::temp_dir().join(format!("test-support-status-{}", std::process::id()));
        fs::write(&file, "peer: present\nlink: up\npeer_name: B\n").unwrap();
        assert_eq!(status_value(&file, "link"), "up");
        assert_eq!(status_value(&file, "peer"), "present");
        assert_eq!(status_value(&file, "name"), "");
        fs::remove_file(&file).unwrap();
        assert_eq!(status_value(&file, "link"), "");
    }

    #[test]
    fn layout_reads_profile_target_and_triple() {
        let base = std::env::temp_dir().join(format!("test-support-layout-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(base.join("t/x86_64-unknown-linux-gnu/release")).unwrap();
        fs::create_dir_all(base.join("t/debug")).unwrap();
        fs::write(base.join("t/CACHEDIR.TAG"), "").unwrap();
        assert_eq!(
            Layout::of(&base.join("t/debug")),
            Layout {
                target_dir: base.join("t"),
                triple: None,
                profile: "dev".into()
            }
        );
        assert_eq!(
            Layout::of(&base.join("t/x86_64-unknown-linux-gnu/release")),
            Layout {
                target_dir: base.join("t"),
                triple: Some("x86_64-unknown-linux-gnu".into()),
                profile: "release".into()
            }
        );
        fs::remove_dir_all(&base).unwrap();
    }
}
