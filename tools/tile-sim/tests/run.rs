//! `tile-sim run` as a shell user meets it: its exit statuses, its refusal
//! of a `--dir` inside a served tree, and what it prints at start (counts,
//! the seed). Real `tile-sim` and `itcd` processes on real FUSE mounts (as
//! root); each test in a directory of its own. A guard stops every grid
//! by pid and unmounts and removes its directory, also when a test fails.
//! Conditions are awaited with deadlines, never for a fixed time.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use test_support::pty::Pty;
use test_support::{mounts_under, unmount_all_under, wait_for, workspace_bins};

const TILE_SIM: &str = env!("CARGO_BIN_EXE_tile-sim");

/// Deadline for every awaited condition; generous, as tests share the CPU.
const DEADLINE: Duration = Duration::from_secs(20);

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

/// A running `tile-sim run` in `dir`, its output in files beside it;
/// stopped with SIGTERM (SIGKILL after the deadline) on drop.
struct Grid {
    child: Option<Child>,
    dir: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Grid {
    /// Starts `tile-sim run ARGS --dir BASE/grid` and waits until it has
    /// printed its table and every tile in `tiles` serves its tree.
    fn start(base: &Path, args: &[&str], tiles: &[&str]) -> Grid {
        let bin_dir = Path::new(TILE_SIM)
            .parent()
            .expect("tile-sim has a directory");
        workspace_bins(bin_dir, &[("itcio", "itcd")]);
        let dir = base.join("grid");
        let stdout = base.join("stdout");
        let stderr = base.join("stderr");
        let child = Command::new(TILE_SIM)
            .arg("run")
            .args(args)
            .args(["--rate", "0", "--hello", "100", "--dir"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout).expect("stdout file"))
            .stderr(fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start tile-sim run");
        let grid = Grid {
            child: Some(child),
            dir,
            stdout,
            stderr,
        };
        let ready = wait_for(DEADLINE, || {
            grid.stdout_text().contains("control: ")
                && tiles
                    .iter()
                    .all(|t| fs::read_to_string(grid.dir.join(t).join("itc/self")).is_ok())
        });
        assert!(
            ready,
            "grid not ready; stdout:\n{}\nstderr:\n{}",
            grid.stdout_text(),
            grid.stderr_text()
        );
        grid
    }

    fn stdout_text(&self) -> String {
        fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn stderr_text(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Stops tile-sim with SIGTERM; its exit code (None if it had to be
    /// killed).
    fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let mut code = None;
        let exited = wait_for(DEADLINE, || match child.try_wait() {
            Ok(Some(status)) => {
                code = status.code();
                true
            }
            _ => false,
        });
        if !exited {
            // Its itcds get SIGTERM when it dies (parent-death signal).
            let _ = child.kill();
            let _ = child.wait();
        }
        code
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        self.stop();
        unmount_all_under(&self.dir);
    }
}

#[test]
fn usage_errors_exit_2_and_touch_nothing() {
    let base = Scratch::new("usage");
    let dir = base.0.join("grid");
    let cases: &[(&[&str], &str)] = &[
        (&["--rows", "0"], "--rows"),
        (&["--cols", "x"], "--cols"),
        (&["--hello", "0"], "--hello"),
        (&["--hello", "3600001"], "from 1 to 3600000"),
        (&["--hello", "18446744073709551615"], "from 1 to 3600000"),
        (
            &["--rows", "100000", "--cols", "100000"],
            "more than 1024 tiles",
        ),
        (
            &["--rows", "18446744073709551615", "--cols", "2"],
            "more than 1024 tiles",
        ),
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
        (&["--seed", "x"], "--seed"),
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

#[test]
fn a_dir_inside_a_served_tree_is_refused_plainly() {
    let base = Scratch::new("nested");
    let grid = Grid::start(&base.0, &["--rows", "1", "--cols", "1"], &["r0c0"]);
    let tree = grid.dir.join("r0c0");
    for inside in [tree.join("sub/grid"), tree.join("tile"), tree.clone()] {
        let out = tile_sim(&["run", "--rows", "1", "--cols", "1"], &inside);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {stderr}", inside.display());
        let expected = format!(
            "tile-sim: --dir {} is inside the itc tree that an itcd serves at {}, where no \
             directories can be created for the tiles; choose a directory outside it\n",
            inside.display(),
            tree.display()
        );
        assert_eq!(stderr, expected);
    }
    // The first grid is untouched.
    assert!(fs::read_to_string(tree.join("itc/self")).is_ok());
    assert_eq!(mounts_under(&grid.dir), vec![tree]);
}

#[test]
fn counts_are_singular_for_one() {
    let base = Scratch::new("one");
    let mut grid = Grid::start(&base.0, &["--rows", "1", "--cols", "1"], &["r0c0"]);
    let stdout = grid.stdout_text();
    assert!(stdout.contains("\n1 tile, 0 packet links, "), "{stdout}");
    assert_eq!(grid.stop(), Some(0), "stderr:\n{}", grid.stderr_text());
    let stderr = grid.stderr_text();
    assert!(stderr.contains("tile-sim: stopping 1 tile\n"), "{stderr}");
}

#[test]
fn counts_are_plural_for_two() {
    let base = Scratch::new("two");
    let grid = Grid::start(&base.0, &["--rows", "1", "--cols", "2"], &["r0c0", "r0c1"]);
    let stdout = grid.stdout_text();
    assert!(stdout.contains("\n2 tiles, 1 packet link, "), "{stdout}");
}

/// The seed in the table printed at start.
fn printed_seed(stdout: &str) -> Option<u64> {
    stdout
        .split(", ")
        .find_map(|part| part.strip_prefix("seed ")?.parse().ok())
}

#[test]
fn the_seed_is_printed_and_can_be_given() {
    let base = Scratch::new("seed");
    let grid = Grid::start(
        &base.0,
        &["--rows", "1", "--cols", "2", "--seed", "42"],
        &["r0c0", "r0c1"],
    );
    let stdout = grid.stdout_text();
    assert_eq!(printed_seed(&stdout), Some(42), "{stdout}");
    drop(grid);

    // Without --seed, a seed is drawn and printed, to repeat the run with.
    let base = Scratch::new("seed-random");
    let grid = Grid::start(
        &base.0,
        &["--link", "firmware", "--rows", "1", "--cols", "2"],
        &["r0c0", "r0c1"],
    );
    let stdout = grid.stdout_text();
    assert!(stdout.contains("\n2 tiles, 1 firmware link, "), "{stdout}");
    assert!(printed_seed(&stdout).is_some(), "no seed in:\n{stdout}");
}

#[test]
fn a_grid_where_no_tile_comes_up_exits_1() {
    let base = Scratch::new("none");
    let bin_dir = Path::new(TILE_SIM)
        .parent()
        .expect("tile-sim has a directory");
    workspace_bins(bin_dir, &[("itcio", "itcd")]);
    let dir = base.0.join("grid");
    let stderr = base.0.join("stderr");
    // tile-sim passes --log-level on to every itcd, which takes `--bogus`
    // for a flag it does not know and exits 2 before mounting anything.
    let mut child = Command::new(TILE_SIM)
        .args(["run", "--rows", "1", "--cols", "2", "--log-level=--bogus"])
        .arg("--dir")
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("start tile-sim run");
    let mut status = None;
    let exited = wait_for(DEADLINE, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    if !exited {
        // Its itcds get SIGTERM when it dies (parent-death signal).
        let _ = child.kill();
        let _ = child.wait();
    }
    let stderr = fs::read_to_string(&stderr).unwrap_or_default();
    assert!(exited, "tile-sim run still runs with no tile up:\n{stderr}");
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{stderr}");
    assert!(stderr.contains("unexpected argument '--bogus'"), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("tile-sim: no tile came up: the itcd of r0c0 (pid ")
            && last.contains("exited before serving its tree"),
        "{stderr}"
    );
    assert!(mounts_under(&dir).is_empty());
    assert!(!dir.join(".sim").exists(), "{stderr}");
}

#[test]
fn links_too_slow_for_hellos_are_warned_of() {
    let base = Scratch::new("slow");
    // The guard's --hello 100 makes a neighbour absent after 350 ms.
    let mut grid = Grid::start(
        &base.0,
        &["--rows", "1", "--cols", "2", "--latency", "400000"],
        &[],
    );
    let stderr = grid.stderr_text();
    assert!(
        stderr.contains("tile-sim: warning: a hello takes 0.400 s")
            && stderr.contains("no neighbour will stay present"),
        "{stderr}"
    );
    assert_eq!(grid.stop(), Some(0));
    drop(grid);

    let base = Scratch::new("fast");
    let mut grid = Grid::start(&base.0, &["--rows", "1", "--cols", "2"], &[]);
    assert!(
        !grid.stderr_text().contains("warning"),
        "{}",
        grid.stderr_text()
    );
    assert_eq!(grid.stop(), Some(0));
}

/// The directories `run` made for the grid go when it stops: the mount
/// points and `--dir` itself. One that was there before stays, and so
/// does `--dir` then.
#[test]
fn stopping_removes_the_directories_run_made_and_only_those() {
    let base = Scratch::new("dirs");
    let mut grid = Grid::start(&base.0, &["--rows", "1", "--cols", "2"], &["r0c0", "r0c1"]);
    assert_eq!(grid.stop(), Some(0), "stderr:\n{}", grid.stderr_text());
    assert!(!grid.dir.exists(), "{} left behind", grid.dir.display());

    let mine = grid.dir.join("r0c0");
    fs::create_dir_all(&mine).expect("a mount point made beforehand");
    let mut grid = Grid::start(&base.0, &["--rows", "1", "--cols", "2"], &["r0c0", "r0c1"]);
    assert_eq!(grid.stop(), Some(0), "stderr:\n{}", grid.stderr_text());
    assert!(mine.is_dir(), "a directory made before the run was removed");
    assert!(!grid.dir.join("r0c1").exists());
    assert!(!grid.dir.join(".sim").exists());
    assert_eq!(
        fs::read_dir(&grid.dir).expect("--dir stays").count(),
        1,
        "only r0c0 is left"
    );
}

/// Closing the terminal `tile-sim run` runs in (its session's, as a shell
/// gives it) hangs the terminal up, and the shell sends SIGHUP to the
/// whole job: `tile-sim` and its `itcd`s. That stops the grid as cleanly
/// as Ctrl-C, although the terminal takes no more output: exit status 0,
/// every `itcd` gone, nothing mounted, no `.sim`, no mount points.
#[test]
fn a_closed_terminal_stops_the_grid_cleanly() {
    let base = Scratch::new("hangup");
    let bin_dir = Path::new(TILE_SIM).parent().expect("tile-sim's directory");
    workspace_bins(bin_dir, &[("itcio", "itcd")]);
    let dir = base.0.join("grid");
    let mut pty = Pty::open();
    let mut cmd = Command::new(TILE_SIM);
    // At info, each itcd writes to the dead terminal too as it stops.
    cmd.args([
        "run", "--rows", "1", "--cols", "2", "--rate", "0", "--hello", "100",
    ])
    .args(["--log-level", "info", "--dir"])
    .arg(&dir);
    pty.attach(&mut cmd);
    let mut child = cmd.spawn().expect("start tile-sim run");
    let shown = pty.read_until(DEADLINE, |s| s.contains("control: "));
    let pids: Vec<i32> = shown
        .lines()
        .filter(|l| l.starts_with("r0c"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    assert_eq!(pids.len(), 2, "{shown}");
    assert!(wait_for(DEADLINE, || {
        ["r0c0", "r0c1"]
            .iter()
            .all(|t| fs::read_to_string(dir.join(t).join("itc/self")).is_ok())
    }));

    // The terminal goes away, then the shell's SIGHUP to the job.
    pty.hang_up();
    let _ = kill(Pid::from_raw(-(child.id() as i32)), Signal::SIGHUP);
    let mut status = None;
    let exited = wait_for(DEADLINE, || {
        status = child.try_wait().expect("wait for tile-sim");
        status.is_some()
    });
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(exited, "tile-sim did not exit after SIGHUP");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{status:?}");
    for pid in pids {
        let alive = kill(Pid::from_raw(pid), None).is_ok()
            && fs::read_to_string(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.contains("itcd"));
        assert!(!alive, "itcd {pid} outlived tile-sim");
    }
    assert_eq!(mounts_under(&base.0), Vec::<PathBuf>::new());
    assert!(!dir.exists(), "{} left behind", dir.display());
}
