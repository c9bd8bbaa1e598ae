//! End-to-end tests of `itc files` as a user runs it: a real `tile-sim`
//! 1x2 grid (real `itcd`s on real FUSE mounts), a real `itc-files` daemon
//! per tile with its own store, and the real `itc` binary publishing,
//! listing, deleting and watching through the daemons' control sockets.
//!
//! The binaries are built next to `itc` if need be. Guards stop the
//! daemons and the grid, also when a test fails, and check that nothing
//! stays mounted. Conditions are awaited with deadlines, never fixed
//! sleeps.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use test_support::{unmount_all_under, wait_for, workspace_bins};

const DEADLINE: Duration = Duration::from_secs(30);
const TILES: [&str; 2] = ["r0c0", "r0c1"];

struct Bins {
    itc: PathBuf,
    tile_sim: PathBuf,
    itcd: PathBuf,
    files: PathBuf,
}

fn bins() -> Bins {
    let itc = PathBuf::from(env!("CARGO_BIN_EXE_itc"));
    let dir = itc.parent().expect("itc has a directory").to_path_buf();
    let built = workspace_bins(
        &dir,
        &[
            ("tile-sim", "tile-sim"),
            ("itcio", "itcd"),
            ("itc-files-daemon", "itc-files"),
        ],
    );
    Bins {
        itc,
        tile_sim: built[0].clone(),
        itcd: built[1].clone(),
        files: built[2].clone(),
    }
}

fn signal(pid: u32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), sig);
}

fn wait_child(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// A 1x2 grid with an `itc-files` per tile, a trusted key and a secret
/// key to sign with (`DIR/key`).
struct Files {
    bins: Bins,
    dir: PathBuf,
    grid: Option<Child>,
    daemons: Vec<Child>,
}

impl Files {
    /// Starts the grid with links of `rate` bit/s (0: unlimited).
    fn start(tag: &str, rate: u64) -> Files {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let bins = bins();
        let dir = std::env::temp_dir().join(format!(
            "itc-files-cli-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("keys")).expect("test directory");
        let log = fs::File::create(dir.join("tile-sim.log")).expect("log file");
        let grid = Command::new(&bins.tile_sim)
            .args([
                "run",
                "--rows",
                "1",
                "--cols",
                "2",
                "--rate",
                &rate.to_string(),
            ])
            .args(["--hello", "100", "--dir"])
            .arg(dir.join("grid"))
            .arg("--itcd")
            .arg(&bins.itcd)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start tile-sim");
        let mut files = Files {
            bins,
            dir,
            grid: Some(grid),
            daemons: Vec::new(),
        };
        let keygen = files.itc(&["files", "keygen"], Some(&files.dir.join("key")));
        assert_eq!(keygen.status.code(), Some(0), "{}", text(&keygen.stderr));
        fs::copy(files.dir.join("key.pub"), files.dir.join("keys/key.pub")).expect("trust it");
        for tile in TILES {
            let log = fs::File::create(files.dir.join(format!("{tile}.log"))).expect("log");
            let child = Command::new(&files.bins.files)
                .arg("--mount")
                .arg(files.dir.join("grid").join(tile))
                .arg("--store")
                .arg(files.store(tile))
                .arg("--keys")
                .arg(files.dir.join("keys"))
                .arg("--hooks")
                .arg(files.dir.join("hooks"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("start itc-files");
            files.daemons.push(child);
        }
        for tile in TILES {
            let sock = files.store(tile).join("control.sock");
            assert!(
                wait_for(DEADLINE, || sock.exists()),
                "{tile}'s itc-files never served; log:\n{}",
                files.log(tile)
            );
        }
        assert!(
            wait_for(DEADLINE, || files
                .status(TILES[0])
                .contains("neighbours: ET")),
            "r0c0's daemon never saw r0c1; log:\n{}",
            files.log("r0c0")
        );
        files
    }

    fn store(&self, tile: &str) -> PathBuf {
        self.dir.join("st").join(tile)
    }

    fn log(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }

    /// `itc ARGS [PATH]` run to completion, `$ITC_STORE` unset.
    fn itc(&self, args: &[&str], path: Option<&Path>) -> Output {
        let mut cmd = Command::new(&self.bins.itc);
        cmd.args(args);
        if let Some(p) = path {
            cmd.arg(p);
        }
        run(cmd)
    }

    /// `itc files --store <tile's store> ARGS`.
    fn files(&self, tile: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.bins.itc);
        cmd.arg("files")
            .arg("--store")
            .arg(self.store(tile))
            .args(args);
        run(cmd)
    }

    fn status(&self, tile: &str) -> String {
        text(&self.files(tile, &["status"]).stdout)
    }

    fn json(&self, tile: &str) -> serde_json::Value {
        let out = self.files(tile, &["status", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("status --json is JSON")
    }

    fn live(&self, tile: &str, name: &str) -> PathBuf {
        self.store(tile).join("live").join(name)
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        for d in &mut self.daemons {
            signal(d.id(), Signal::SIGTERM);
        }
        for d in &mut self.daemons {
            let stopped = wait_child(d, DEADLINE);
            if !std::thread::panicking() {
                assert!(
                    stopped.is_some_and(|s| s.success()),
                    "itc-files did not exit 0 on SIGTERM: {stopped:?}"
                );
            }
        }
        if let Some(mut grid) = self.grid.take() {
            signal(grid.id(), Signal::SIGTERM);
            wait_child(&mut grid, DEADLINE);
        }
        let left = unmount_all_under(&self.dir);
        if left.is_empty() {
            let _ = fs::remove_dir_all(&self.dir);
        } else if !std::thread::panicking() {
            panic!("still mounted after tile-sim stopped: {left:?}");
        }
    }
}

fn run(mut cmd: Command) -> Output {
    cmd.env_remove("ITC_STORE").stdin(Stdio::null());
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start itc");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(out) => out.expect("wait for itc"),
        Err(_) => {
            signal(pid, Signal::SIGKILL);
            panic!("{cmd:?} did not finish in {DEADLINE:?}");
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Bytes that differ from piece to piece.
fn content(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

#[test]
fn publish_list_status_and_delete_through_the_daemons() {
    let f = Files::start("publish", 0);
    let data = content(300_000, 1);
    let file = f.dir.join("physics.mfz");
    fs::write(&file, &data).unwrap();
    let key = f.dir.join("key");
    let key = key.to_str().unwrap();
    let out = f.files("r0c0", &["publish", file.to_str().unwrap(), "--key", key]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("published physics.mfz version "));

    // It reaches the other tile, whole.
    let there = f.live("r0c1", "physics.mfz");
    assert!(
        wait_for(DEADLINE, || fs::read(&there).is_ok_and(|b| b == data)),
        "never arrived; r0c1 log:\n{}",
        f.log("r0c1")
    );
    let list = text(&f.files("r0c1", &["list"]).stdout);
    let line = list.lines().nth(1).expect("a line for the file");
    assert!(
        line.starts_with("physics.mfz") && line.ends_with("live"),
        "{list}"
    );

    let s = f.json("r0c1");
    let file_status = &s["files"][0];
    assert_eq!(file_status["name"], "physics.mfz");
    assert_eq!(file_status["live"]["length"], 300_000);
    assert!(s["counters"]["pieces_received"].as_u64().unwrap() >= 19);
    for (reason, n) in s["bad_input"].as_object().unwrap() {
        assert_eq!(n, 0, "bad input {reason}");
    }
    let version = file_status["live"]["version"].as_u64().unwrap();

    // A second publish of other bytes under the same name wins everywhere.
    let data2 = content(200_000, 2);
    fs::write(&file, &data2).unwrap();
    let out = f.files(
        "r0c1",
        &[
            "publish",
            file.to_str().unwrap(),
            "--key",
            key,
            "--name",
            "physics.mfz",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mine = f.live("r0c0", "physics.mfz");
    assert!(wait_for(DEADLINE, || fs::read(&mine).is_ok_and(|b| b == data2)));
    let v2 = f.json("r0c0")["files"][0]["live"]["version"]
        .as_u64()
        .unwrap();
    assert!(v2 > version, "{v2} > {version}");

    // An older version is refused, saying why.
    let old = (version - 1).to_string();
    let out = f.files(
        "r0c0",
        &[
            "publish",
            file.to_str().unwrap(),
            "--key",
            key,
            "--version",
            &old,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not newer"),
        "{}",
        text(&out.stderr)
    );

    // Delete on one tile removes it from both.
    let out = f.files("r0c0", &["delete", "physics.mfz", "--key", key]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(wait_for(DEADLINE, || !mine.exists() && !there.exists()));
    let list = text(&f.files("r0c1", &["list"]).stdout);
    assert!(list.contains("deleted up to v"), "{list}");
}

#[test]
fn failures_are_one_clear_line() {
    let f = Files::start("errors", 0);
    let key = f.dir.join("key");
    let one_line = |out: &Output| {
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        err
    };

    // No daemon: the store and the socket are named.
    let nowhere = f.dir.join("nowhere");
    let mut cmd = Command::new(&f.bins.itc);
    cmd.args(["files", "--store"]).arg(&nowhere).arg("list");
    let err = one_line(&run(cmd));
    assert!(
        err.contains(&nowhere.join("control.sock").display().to_string()),
        "{err}"
    );
    assert!(err.contains("itc-files"), "{err}");

    // A file that cannot be read.
    let missing = f.dir.join("missing.bin");
    let err = one_line(&f.files(
        "r0c0",
        &[
            "publish",
            missing.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    ));
    assert!(
        err.contains("cannot read") && err.contains("missing.bin"),
        "{err}"
    );

    // A key the daemons do not trust.
    let other = f.dir.join("other");
    let out = f.itc(&["files", "keygen"], Some(&other));
    assert_eq!(out.status.code(), Some(0));
    let file = f.dir.join("x.bin");
    fs::write(&file, b"hello").unwrap();
    let err = one_line(&f.files(
        "r0c0",
        &[
            "publish",
            file.to_str().unwrap(),
            "--key",
            other.to_str().unwrap(),
        ],
    ));
    assert!(err.contains("not trusted"), "{err}");

    // A secret key others may read.
    fs::set_permissions(&other, fs::Permissions::from_mode(0o644)).unwrap();
    let err = one_line(&f.files(
        "r0c0",
        &[
            "publish",
            file.to_str().unwrap(),
            "--key",
            other.to_str().unwrap(),
        ],
    ));
    assert!(err.contains("chmod"), "{err}");

    // keygen does not overwrite.
    let err = one_line(&f.itc(&["files", "keygen"], Some(&key)));
    assert!(err.contains("exists"), "{err}");

    // A name the tiles cannot take.
    let err = one_line(&f.files(
        "r0c0",
        &[
            "publish",
            file.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--name",
            ".hidden",
        ],
    ));
    assert!(err.contains("--name"), "{err}");
}

#[test]
fn watch_prints_progress_until_the_file_is_live() {
    // At the real links' rate, so that progress shows between updates.
    let f = Files::start("watch", 2_500_000);
    let mut cmd = Command::new(&f.bins.itc);
    cmd.args(["files", "--store"])
        .arg(f.store("r0c1"))
        .arg("watch")
        .env_remove("ITC_STORE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start itc files watch");
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = lines.recv_timeout(DEADLINE).expect("watch says something");
    assert_eq!(first, "nothing is being fetched");

    let file = f.dir.join("maps.bin");
    fs::write(&file, content(400_000, 3)).unwrap();
    let key = f.dir.join("key");
    let out = f.files(
        "r0c0",
        &[
            "publish",
            file.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut seen = Vec::new();
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        let Ok(line) = lines.recv_timeout(end - Instant::now()) else {
            break;
        };
        let done = line.ends_with(": live");
        seen.push(line);
        if done {
            break;
        }
    }
    signal(child.id(), Signal::SIGTERM);
    wait_child(&mut child, DEADLINE);
    assert!(
        seen.last()
            .is_some_and(|l| l.starts_with("maps.bin v") && l.ends_with(": live")),
        "{seen:#?}; r0c1:\n{}\n{}",
        f.status("r0c1"),
        f.log("r0c1")
    );
    assert!(
        seen.iter()
            .any(|l| l.contains("pieces") || l.contains("manifest")),
        "progress lines: {seen:#?}"
    );
}
