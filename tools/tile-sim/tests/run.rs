//! `tile-sim run` as a shell user meets it: its exit statuses. Each test
//! in a directory of its own, removed by a guard.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use test_support::unmount_all_under;

const TILE_SIM: &str = env!("CARGO_BIN_EXE_tile-sim");

/// A directory of its own for each test, removed (after unmounting
/// anything below it) on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base =
            std::env::temp_dir().join(format!("tile-sim-run-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).expect("create the test directory");
        Scratch(fs::canonicalize(&base).expect("canonical test directory"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        unmount_all_under(&self.0);
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `tile-sim ARGS` run to completion (each case here exits at once).
fn tile_sim(args: &[&str], dir: &Path) -> Output {
    Command::new(TILE_SIM)
        .args(args)
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run tile-sim")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn usage_errors_exit_2_and_touch_nothing() {
    let base = Scratch::new("usage");
    let dir = base.0.join("grid");
    let cases: &[(&[&str], &str)] = &[
        (&["--rows", "0"], "--rows"),
        (&["--cols", "x"], "--cols"),
        (&["--hello", "0"], "--hello"),
        (&["--loss", "2"], "a probability is a number from 0 to 1"),
        (&["--corrupt=-0.1"], "a probability is a number from 0 to 1"),
        (&["--loss", "NaN"], "a probability is a number from 0 to 1"),
        (
            &["--link", "firmware", "--loss", "0.1"],
            "--loss and --latency apply to --link packet only",
        ),
        (
            &["--link", "firmware", "--latency", "5"],
            "--loss and --latency apply to --link packet only",
        ),
        (&["--frobnicate"], "--frobnicate"),
    ];
    for (args, message) in cases {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        let out = tile_sim(&all, &dir);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(message),
            "{args:?}: expected {message:?} in {stderr:?}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        assert!(!dir.exists(), "{args:?} created {}", dir.display());
    }

    // A failure while running exits 1: here --dir cannot be created.
    let file = base.0.join("file");
    fs::write(&file, "").expect("a plain file");
    let out = tile_sim(&["run"], &file.join("grid"));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("tile-sim: cannot create --dir "),
        "{stderr}"
    );

    // The long help says so.
    for args in [&["--help"][..], &["run", "--help"]] {
        let out = Command::new(TILE_SIM)
            .args(args)
            .output()
            .expect("tile-sim --help");
        assert_eq!(out.status.code(), Some(0));
        assert!(
            text(&out.stdout).contains("Exit status: 0 "),
            "{args:?}: {}",
            text(&out.stdout)
        );
    }
}
