//! The managed file service through real grids: `tile-sim run --files`
//! (a real `itcd` on a real FUSE mount and a real `itc-files` per tile),
//! driven with `tile-sim ctl publish|delete|files|stop|start|cut|restore`
//! as a user would, and checked on the files each tile's store holds in
//! `live/`, byte for byte. Details a user would read with `itc files
//! status` (pieces, counters) come from the same control socket.
//!
//! Each test runs its own grid in a directory of its own; a guard stops it
//! by pid and removes the directory, also when the test fails. Nothing
//! sleeps for a fixed time: conditions are awaited with a deadline. Files
//! are small and links fast where the test allows, so the whole file runs
//! in well under a minute on two cores.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use itc_files::client::Client;
use itc_files::control::{Fetch, Status};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use test_support::{mounts_under, unmount_all_under, wait_for, workspace_bins};

const TILE_SIM: &str = env!("CARGO_BIN_EXE_tile-sim");

/// Deadline for every awaited condition; generous, as tests share the CPU.
const DEADLINE: Duration = Duration::from_secs(60);

/// Builds `itcd` and `itc-files` next to `tile-sim`, where `tile-sim run`
/// looks for them.
fn ensure_bins() {
    let dir = Path::new(TILE_SIM)
        .parent()
        .expect("tile-sim has a directory");
    workspace_bins(dir, &[("itcio", "itcd"), ("itc-files-daemon", "itc-files")]);
}

/// `len` bytes that differ with `seed`.
fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A running `tile-sim run --files` and its directory; stopped and removed
/// on drop.
struct Grid {
    child: Option<Child>,
    base: PathBuf,
    dir: PathBuf,
    tiles: Vec<String>,
}

impl Grid {
    /// Starts a `rows` x `cols` grid with `--files` and `extra` options and
    /// waits until every `itc-files` sees all its neighbours.
    fn start(tag: &str, rows: usize, cols: usize, extra: &[&str]) -> Grid {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        ensure_bins();
        let base = std::env::temp_dir().join(format!(
            "tile-sim-files-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).expect("test directory");
        let dir = base.join("grid");
        let child = Command::new(TILE_SIM)
            .arg("run")
            .args(["--rows", &rows.to_string(), "--cols", &cols.to_string()])
            .args(["--files", "--hello", "100", "--dir"])
            .arg(&dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(fs::File::create(base.join("stdout")).expect("stdout file"))
            .stderr(fs::File::create(base.join("stderr")).expect("stderr file"))
            .spawn()
            .expect("start tile-sim run");
        let tiles = (0..rows)
            .flat_map(|r| (0..cols).map(move |c| format!("r{r}c{c}")))
            .collect();
        let grid = Grid {
            child: Some(child),
            base,
            dir,
            tiles,
        };
        let up = wait_for(DEADLINE, || {
            fs::read_to_string(grid.base.join("stdout")).is_ok_and(|t| t.contains("control:"))
        });
        assert!(up, "the grid did not come up:\n{}", grid.stderr());
        // Every itc-files sees as many neighbours as its tile has links.
        let links: Vec<(String, usize)> = grid
            .ok(&["list"])
            .lines()
            .map(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                let links = words.iter().filter(|w| w.ends_with(":up")).count();
                (words[0].to_string(), links)
            })
            .collect();
        for (tile, n) in &links {
            let seen = wait_for(DEADLINE, || {
                grid.status(tile).is_some_and(|s| s.neighbours.len() == *n)
            });
            assert!(seen, "{tile}'s itc-files never saw its {n} neighbours");
        }
        grid
    }

    fn stderr(&self) -> String {
        fs::read_to_string(self.base.join("stderr")).unwrap_or_default()
    }

    fn ctl(&self, args: &[&str]) -> Output {
        Command::new(TILE_SIM)
            .arg("ctl")
            .arg("--dir")
            .arg(&self.dir)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tile-sim ctl")
    }

    /// `ctl ARGS`, which must succeed; its output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "ctl {args:?}: {}\ngrid:\n{}",
            text(&out.stderr),
            self.stderr()
        );
        text(&out.stdout)
    }

    /// Writes `bytes` to a file under the test directory and publishes it
    /// from `tile` as `name`.
    fn publish(&self, tile: &str, name: &str, bytes: &[u8]) {
        let file = self.base.join(format!("{name}-{tile}"));
        fs::write(&file, bytes).expect("write the file to publish");
        let out = self.ok(&[
            "publish",
            tile,
            file.to_str().expect("UTF-8"),
            "--name",
            name,
        ]);
        assert!(out.starts_with("published "), "{out}");
    }

    fn store(&self, tile: &str) -> PathBuf {
        self.dir.join(".sim/store").join(tile)
    }

    fn live(&self, tile: &str, name: &str) -> PathBuf {
        self.store(tile).join("live").join(name)
    }

    /// The status of `tile`'s `itc-files`, if it answers.
    fn status(&self, tile: &str) -> Option<Status> {
        Client::connect(&self.store(tile)).ok()?.status().ok()
    }

    /// The fetch of `name` in progress on `tile`, if any.
    fn fetch(&self, tile: &str, name: &str) -> Option<Fetch> {
        self.status(tile)?.file(name)?.fetch.clone()
    }

    fn counter(&self, tile: &str, key: &str) -> u64 {
        self.status(tile)
            .and_then(|s| s.counters.get(key).copied())
            .unwrap_or_default()
    }

    /// Waits until `tile` has verified at least `at_least` of the pieces of
    /// `name` and not all; returns the fetch then.
    fn mid_transfer(&self, tile: &str, name: &str, at_least: u32) -> Fetch {
        let mut seen = None;
        let caught = wait_for(DEADLINE, || {
            seen = self
                .fetch(tile, name)
                .filter(|f| f.total > 0 && f.pieces >= at_least && f.pieces < f.total);
            seen.is_some()
        });
        assert!(
            caught,
            "never caught {tile} mid-transfer of {name}:\n{}\n{}",
            self.ok(&["files"]),
            self.stderr()
        );
        seen.expect("a fetch")
    }

    /// Waits until every tile holds `bytes` as `name` in `live/`.
    fn await_everywhere(&self, name: &str, bytes: &[u8]) {
        let all = wait_for(DEADLINE, || {
            self.tiles
                .iter()
                .all(|t| fs::read(self.live(t, name)).is_ok_and(|b| b == bytes))
        });
        assert!(
            all,
            "not every tile holds {name} bit-identical:\n{}\n{}",
            self.ok(&["files"]),
            self.stderr()
        );
    }

    /// Waits until no tile holds `name` in `live/`.
    fn await_gone_everywhere(&self, name: &str) {
        let gone = wait_for(DEADLINE, || {
            self.tiles.iter().all(|t| !self.live(t, name).exists())
        });
        assert!(
            gone,
            "{name} is still live somewhere:\n{}",
            self.ok(&["files"])
        );
    }

    /// The pid of `tile`'s `itc-files`, from `ctl list`.
    fn files_pid(&self, tile: &str) -> u32 {
        let list = self.ok(&["list"]);
        let line = list
            .lines()
            .find(|l| l.split_whitespace().next() == Some(tile))
            .expect("the tile is listed");
        line.split_whitespace()
            .find_map(|w| w.strip_prefix("files:"))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no itc-files pid in {line:?}"))
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            let exited = wait_for(DEADLINE, || matches!(child.try_wait(), Ok(Some(_))));
            if !exited {
                // Its daemons get SIGTERM when it dies (parent-death signal).
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        unmount_all_under(&self.dir);
        let _ = fs::remove_dir_all(&self.base);
    }
}

#[test]
fn publish_newer_version_delete_and_revive_across_a_3x3_grid() {
    let grid = Grid::start("spread", 3, 3, &["--rate", "0"]);

    let first = content(1, 300_000);
    grid.publish("r0c0", "data", &first);
    grid.await_everywhere("data", &first);
    let v1 = grid
        .status("r2c2")
        .and_then(|s| s.file("data")?.live.as_ref().map(|l| l.version))
        .expect("r2c2 has data live");
    let files = grid.ok(&["files"]);
    for tile in &grid.tiles {
        let line = format!("{tile:<8} data");
        assert!(
            files
                .lines()
                .any(|l| l.starts_with(&line) && l.ends_with(&format!("live v{v1}"))),
            "ctl files does not show {tile} with data live v{v1}:\n{files}"
        );
    }

    // A newer version published from the far corner wins everywhere.
    let second = content(2, 200_000);
    grid.publish("r2c2", "data", &second);
    grid.await_everywhere("data", &second);

    // A deletion from the middle removes it everywhere.
    let out = grid.ok(&["delete", "r1c1", "data"]);
    assert!(out.starts_with("deleted data"), "{out}");
    grid.await_gone_everywhere("data");

    // A later publish revives the name.
    let third = content(3, 100_000);
    grid.publish("r0c2", "data", &third);
    grid.await_everywhere("data", &third);

    // A clean stop: every daemon exits 0, nothing is left mounted, and the
    // stores stay.
    let mut grid = grid;
    let mut child = grid.child.take().expect("running");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("SIGINT");
    let status = child.wait().expect("wait for tile-sim");
    let stderr = grid.stderr();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("tile-sim: 9 itcds and 9 itc-files stopped in ")
            && stderr.contains(", each with exit status 0\n"),
        "{stderr}"
    );
    assert!(mounts_under(&grid.dir).is_empty());
    assert!(!grid.dir.join(".sim/ctl").exists());
    assert_eq!(fs::read(grid.live("r1c1", "data")).ok(), Some(third));
}

#[test]
fn a_tile_stopped_and_started_mid_transfer_ends_bit_identical() {
    // A line of three: the middle tile is the only way to the far end.
    let grid = Grid::start("restart", 1, 3, &[]);
    let bytes = content(4, 600_000);
    grid.publish("r0c0", "data", &bytes);
    grid.mid_transfer("r0c1", "data", 2);
    grid.ok(&["stop", "r0c1"]);
    let list = grid.ok(&["list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with("r0c1") && l.contains("stopped") && l.contains("files:stopped")),
        "{list}"
    );
    grid.ok(&["start", "r0c1"]);
    grid.await_everywhere("data", &bytes);
}

#[test]
fn itc_files_killed_mid_transfer_resumes_from_its_staging() {
    let grid = Grid::start("kill", 1, 2, &[]);
    let bytes = content(5, 600_000);
    grid.publish("r0c0", "data", &bytes);
    let before = grid.mid_transfer("r0c1", "data", 8);
    let pid = grid.files_pid("r0c1");
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).expect("SIGKILL");
    let reported = wait_for(DEADLINE, || {
        grid.stderr()
            .contains("tile-sim: itc-files of r0c1 exited: signal: 9")
    });
    assert!(reported, "{}", grid.stderr());
    // `start` starts what does not run: here only the itc-files.
    grid.ok(&["start", "r0c1"]);
    assert_ne!(grid.files_pid("r0c1"), pid);
    grid.await_everywhere("data", &bytes);
    // It fetched only what it did not have: the pieces verified before the
    // kill came from its staging.
    let received = grid.counter("r0c1", "pieces_received");
    eprintln!(
        "verified before the kill: {} of {}; received after the restart: {received}",
        before.pieces, before.total
    );
    assert!(
        received > 0 && received <= u64::from(before.total - before.pieces),
        "received {received} pieces after the restart; {} of {} were verified before it",
        before.pieces,
        before.total
    );
}

#[test]
fn loss_and_a_link_cut_mid_transfer_still_converge() {
    let grid = Grid::start("lossy", 2, 2, &["--loss", "0.01"]);
    let bytes = content(6, 400_000);
    grid.publish("r0c0", "data", &bytes);
    let before = grid.mid_transfer("r0c1", "data", 2);
    // The direct link from the publisher goes; the rest still reaches r0c1
    // through r1c0.
    grid.ok(&["cut", "r0c0", "ET"]);
    let more = wait_for(DEADLINE, || {
        grid.fetch("r0c1", "data")
            .is_none_or(|f| f.pieces > before.pieces)
    });
    assert!(more, "r0c1 made no progress with the link cut");
    grid.ok(&["restore", "r0c0", "ET"]);
    grid.await_everywhere("data", &bytes);
}

#[test]
fn the_grid_pictures_show_each_tiles_file_versions() {
    // `ctl files` feeds `tile-sim view` and `snapshot`: after a publish,
    // the snapshot's picture names the file and its live version under
    // every tile.
    let grid = Grid::start("picture", 1, 2, &["--rate", "0"]);
    let bytes = content(7, 3000);
    grid.publish("r0c0", "map", &bytes);
    grid.await_everywhere("map", &bytes);
    let out = Command::new(TILE_SIM)
        .args(["snapshot", "--interval", "0", "-o", "-", "--dir"])
        .arg(&grid.dir)
        .output()
        .expect("run tile-sim snapshot");
    assert!(out.status.success(), "snapshot: {out:?}");
    let svg = text(&out.stdout);
    let doc = roxmltree::Document::parse(&svg).expect("the snapshot is XML");
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    let versions = texts
        .iter()
        .map(|t| t.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() == 3 && w[0] == "map" && w[1] == "live" && w[2].starts_with('v'))
        .count();
    assert_eq!(
        versions,
        2,
        "one line per tile naming map's live version: {texts:?}\n{}",
        grid.ok(&["files"])
    );
}
