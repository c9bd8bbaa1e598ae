//! A large grid stops cleanly: on SIGINT every `itcd` exits 0 without
//! being killed, nothing stays mounted, and the directory `run` made is
//! gone. Real `tile-sim` and `itcd` processes on real FUSE mounts (as
//! root), at the default link rate and hello interval. Not timed: how
//! long a grid takes to stop is measured by `benches/scale.rs`; here it
//! only has to stop within `tile-sim`'s own limit (no `itcd` killed).
//!
//! A guard kills `tile-sim` (by pid; its `itcd`s follow it, parent-death
//! signal), unmounts and removes the test's directory, also when the test
//! fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use test_support::{mounts_under, unmount_all_under, wait_for, workspace_bins};

const TILE_SIM: &str = env!("CARGO_BIN_EXE_tile-sim");

/// Rows and columns: 1024 `itcd`s, `tile-sim`'s limit (about 20 s on two
/// shared cores, most of it starting them).
const SIDE: usize = 32;

/// Deadline for the grid to come up and for it to stop; generous, as tests
/// share the CPU.
const DEADLINE: Duration = Duration::from_secs(120);

/// `tile-sim run` in a directory of its own; on drop, killed if still
/// running, and its directory unmounted and removed.
struct Run {
    child: Option<Child>,
    base: PathBuf,
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        unmount_all_under(&self.base);
        let _ = fs::remove_dir_all(&self.base);
    }
}

fn text(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn a_large_grid_stops_cleanly_on_sigint() {
    let bin_dir = Path::new(TILE_SIM)
        .parent()
        .expect("tile-sim has a directory");
    workspace_bins(bin_dir, &[("itcio", "itcd")]);
    let base = std::env::temp_dir().join(format!("tile-sim-large-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(&base).expect("create the test directory");
    let base = fs::canonicalize(&base).expect("canonical test directory");
    // Made by `run`, so it has to remove it again.
    let dir = base.join("grid");
    let (out, err) = (base.join("stdout"), base.join("stderr"));
    let side = SIDE.to_string();
    let child = Command::new(TILE_SIM)
        .args(["run", "--rows", &side, "--cols", &side, "--dir"])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).expect("stdout file"))
        .stderr(fs::File::create(&err).expect("stderr file"))
        .spawn()
        .expect("start tile-sim run");
    let mut run = Run {
        child: Some(child),
        base: base.clone(),
    };
    // The table comes once every tree is served (or failed to be).
    let up = wait_for(DEADLINE, || text(&out).contains("control: "));
    assert!(up, "the grid did not come up:\n{}", text(&err));
    let tiles = SIDE * SIDE;
    let pids: Vec<u32> = text(&out)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    assert_eq!(
        pids.len(),
        tiles,
        "stdout:\n{}\nstderr:\n{}",
        text(&out),
        text(&err)
    );
    assert_eq!(mounts_under(&dir).len(), tiles, "every tree mounted");

    let mut child = run.child.take().expect("tile-sim running");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("SIGINT to tile-sim");
    let mut status = None;
    let stopped = wait_for(DEADLINE, || {
        status = child.try_wait().expect("wait for tile-sim");
        status.is_some()
    });
    if !stopped {
        run.child = Some(child);
    }
    let stderr = text(&err);
    assert!(stopped, "tile-sim did not stop; stderr:\n{stderr}");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("{tiles} itcds stopped in "))
            && stderr.contains(", each with exit status 0\n"),
        "stderr:\n{stderr}"
    );
    assert!(!stderr.contains("killing"), "stderr:\n{stderr}");
    // tile-sim collected them: none is left, not even as a zombie.
    let left: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|p| text(Path::new(&format!("/proc/{p}/comm"))).trim() == "itcd")
        .collect();
    assert_eq!(left, Vec::<u32>::new(), "itcds still there");
    assert_eq!(mounts_under(&base), Vec::<PathBuf>::new(), "still mounted");
    assert!(!dir.exists(), "{} is still there", dir.display());
}
