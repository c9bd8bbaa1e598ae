//! What the picture tests (`view`, `snapshot`) share: a running grid of
//! real `itcd`s in a directory of its own, stopped by pid and removed when
//! dropped, also when a test fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use test_support::{unmount_all_under, wait_for, workspace_bins};

pub const TILE_SIM: &str = env!("CARGO_BIN_EXE_tile-sim");

/// Deadline for every awaited condition; generous, as tests share the CPU
/// with grids of up to sixteen `itcd`s.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A directory of its own for each test, removed on drop.
pub fn scratch(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let base =
        std::env::temp_dir().join(format!("tile-sim-picture-{tag}-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(&base).expect("create the test directory");
    fs::canonicalize(&base).expect("canonical test directory")
}

/// A running `tile-sim run`; stopped (SIGTERM, by pid) and its directory
/// removed on drop.
pub struct Grid {
    child: Option<Child>,
    pub base: PathBuf,
    pub dir: PathBuf,
    pub names: Vec<String>,
}

impl Grid {
    /// Starts a `rows` x `cols` grid and waits until every tree is served
    /// and every tile has all its neighbours present.
    pub fn start(tag: &str, rows: usize, cols: usize) -> Grid {
        workspace_bins(
            Path::new(TILE_SIM).parent().expect("a directory"),
            &[("itcio", "itcd")],
        );
        let base = scratch(tag);
        let dir = base.join("grid");
        let child = Command::new(TILE_SIM)
            .args(["run", "--rate", "0", "--hello", "100"])
            .args(["--rows", &rows.to_string(), "--cols", &cols.to_string()])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(base.join("stderr")).expect("stderr file"))
            .spawn()
            .expect("start tile-sim run");
        let names = (0..rows)
            .flat_map(|r| (0..cols).map(move |c| format!("r{r}c{c}")))
            .collect();
        let grid = Grid {
            child: Some(child),
            base,
            dir,
            names,
        };
        let ready = wait_for(DEADLINE, || {
            let out = grid.ctl(&["list"]);
            let list = String::from_utf8_lossy(&out.stdout).into_owned();
            out.status.success()
                && list.lines().count() == rows * cols
                && list.lines().all(|l| grid.all_present(l))
        });
        assert!(ready, "grid not ready; stderr:\n{}", grid.stderr());
        grid
    }

    /// Whether the tile of a `ctl list` line (`NAME PID STATE MOUNT D:up
    /// ...`) has every wire up and every neighbour present.
    fn all_present(&self, listed: &str) -> bool {
        let words: Vec<&str> = listed.split_whitespace().collect();
        words.len() > 4
            && words[4..].iter().all(|link| {
                let Some((d, "up")) = link.split_once(':') else {
                    return false;
                };
                let status = self.dir.join(words[0]).join("tile").join(d).join("status");
                test_support::status_value(&status, "peer") == "present"
            })
    }

    pub fn ctl(&self, args: &[&str]) -> Output {
        Command::new(TILE_SIM)
            .arg("ctl")
            .arg("--dir")
            .arg(&self.dir)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tile-sim ctl")
    }

    /// `tile`'s line of `ctl list`.
    pub fn listed(&self, tile: &str) -> String {
        let out = self.ctl(&["list"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.split_whitespace().next() == Some(tile))
            .unwrap_or_default()
            .to_string()
    }

    /// Writes `count` packets of service 20 from `tile` toward `dir`
    /// (`ET` only), which the neighbour drops: nothing reads service 20
    /// there (`drop_no_reader`).
    pub fn send_unread(&self, tile: &str, count: usize) {
        let path = self.dir.join(tile).join("tile/ET/svc/20");
        let mut file = fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for _ in 0..count {
            // Routed, DIR ET (2); service 20; one byte of payload.
            std::io::Write::write_all(&mut file, &[0x80 | 2, 20, b'x'])
                .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        }
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(self.base.join("stderr")).unwrap_or_default()
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            if !wait_for(DEADLINE, || matches!(child.try_wait(), Ok(Some(_)))) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        unmount_all_under(&self.dir);
        let _ = fs::remove_dir_all(&self.base);
    }
}
