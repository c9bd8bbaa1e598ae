//! `itc status --watch` as a user runs it: over a real 1x2 `tile-sim`
//! grid (real `itcd`s on real FUSE mounts), in a real terminal (a detached
//! 80x24 `tmux` session on a server of its own, read back with
//! `capture-pane`) and into a pipe.
//!
//! In the terminal, `itc` runs from a small shell script that, once it
//! has ended, prints its exit status and the terminal's modes, so the
//! test sees whether the terminal was given back. Guards kill the tmux
//! server (by its socket name), `itc` and the grid (by pid), also when a
//! test fails. Conditions are awaited with deadlines, never fixed sleeps.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use test_support::{status_value, unmount_all_under, wait_for, workspace_bins};

const ITC: &str = env!("CARGO_BIN_EXE_itc");

/// How long any condition may take.
const DEADLINE: Duration = Duration::from_secs(20);

fn signal(pid: u32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), sig);
}

/// A running `tile-sim run --rows 1 --cols 2` in a directory of its own;
/// stopped by pid and removed on drop.
struct Grid {
    tile_sim: PathBuf,
    base: PathBuf,
    child: Option<Child>,
}

impl Grid {
    /// Starts the grid and waits until r0c0 sees r0c1 at ET.
    fn start(tag: &str) -> Grid {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = Path::new(ITC).parent().expect("itc has a directory");
        let built = workspace_bins(dir, &[("tile-sim", "tile-sim"), ("itcio", "itcd")]);
        let base = std::env::temp_dir().join(format!(
            "itc-watch-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).expect("create the test directory");
        let child = Command::new(&built[0])
            .args(["run", "--rows", "1", "--cols", "2", "--rate", "0"])
            .args(["--hello", "100", "--dir"])
            .arg(base.join("grid"))
            .arg("--itcd")
            .arg(&built[1])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(base.join("stderr")).expect("stderr file"))
            .spawn()
            .expect("start tile-sim");
        let grid = Grid {
            tile_sim: built[0].clone(),
            base,
            child: Some(child),
        };
        assert!(
            wait_for(DEADLINE, || grid.peer("r0c0", "ET") == "present"),
            "r0c0 never saw r0c1; tile-sim stderr:\n{}",
            fs::read_to_string(grid.base.join("stderr")).unwrap_or_default()
        );
        grid
    }

    fn mount(&self, tile: &str) -> PathBuf {
        self.base.join("grid").join(tile)
    }

    fn peer(&self, tile: &str, d: &str) -> String {
        status_value(&self.mount(tile).join(format!("tile/{d}/status")), "peer")
    }

    fn ctl(&self, args: &[&str]) -> Output {
        let out = Command::new(&self.tile_sim)
            .arg("ctl")
            .arg("--dir")
            .arg(self.base.join("grid"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tile-sim ctl");
        assert!(out.status.success(), "ctl {args:?}: {out:?}");
        out
    }

    fn watch(&self, tile: &str) -> Command {
        let mut cmd = Command::new(ITC);
        cmd.arg("--mount")
            .arg(self.mount(tile))
            .args(["status", "--watch", "--interval", "0.2"])
            .env_remove("ITC_MOUNT")
            .stdin(Stdio::null());
        cmd
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), Signal::SIGTERM);
            if !wait_for(DEADLINE, || matches!(child.try_wait(), Ok(Some(_)))) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        unmount_all_under(&self.base);
        let _ = fs::remove_dir_all(&self.base);
    }
}

/// Runs `itc`, then reports how it ended and the terminal's modes, and
/// keeps the pane open until the server is killed. The shell outlives a
/// Ctrl-C (which the terminal sends to `itc` and the shell alike), as an
/// interactive one does.
const SCRIPT: &str = r#"trap : INT
"$1" --mount "$2" status --watch --interval 0.2
echo "itc exited $?"
echo "modes: $(stty -a | tr ' ;' '\n\n' | grep -x -E -e '-?icanon' -e '-?echo' | tr '\n' ' ')"
exec cat
"#;

/// A tmux server of its own with one 80x24 session running [`SCRIPT`] on
/// a tile's mount; killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(grid: &Grid, tile: &str) -> Tmux {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let socket = format!("itc-watch-test-{}-{n}", std::process::id());
        let script = grid.base.join(format!("watch-{n}.sh"));
        fs::write(&script, SCRIPT).expect("write the script");
        let tmux = Tmux { socket };
        let command = format!(
            "sh '{}' '{ITC}' '{}'",
            script.display(),
            grid.mount(tile).display()
        );
        let out = tmux.run(&["new-session", "-d", "-x", "80", "-y", "24", &command]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-f", "/dev/null", "-L", &self.socket])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux (apt-get install tmux)")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p"]).stdout).into_owned()
    }

    fn pane(&self, format: &str) -> String {
        let out = self.run(&["display-message", "-p", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn await_screen(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let held = wait_for(DEADLINE, || {
            last = self.screen();
            f(&last)
        });
        assert!(held, "the screen never showed {what}:\n{last}");
        last
    }

    /// The pid of `itc`: the pane's shell's child.
    fn itc_pid(&self) -> u32 {
        let shell = self.pane("#{pane_pid}");
        let mut pid = None;
        let found = wait_for(DEADLINE, || {
            let children = fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
                .unwrap_or_default();
            pid = children.split_whitespace().find_map(|p| p.parse().ok());
            pid.is_some()
        });
        assert!(found, "no itc under the pane's shell {shell}");
        pid.expect("found")
    }

    /// Waits until `itc` has ended, and checks it exited 0 and gave the
    /// terminal back: the main screen, the cursor, cooked mode with echo.
    fn assert_ended_cleanly(&self, how: &str) {
        let screen = self.await_screen(&format!("itc ending after {how}"), |s| {
            s.contains("modes: ")
        });
        assert!(screen.contains("itc exited 0"), "after {how}:\n{screen}");
        let modes: Vec<&str> = screen
            .lines()
            .find_map(|l| l.strip_prefix("modes: "))
            .expect("a modes line")
            .split_whitespace()
            .collect();
        assert!(
            modes.contains(&"icanon") && modes.contains(&"echo"),
            "after {how}, the terminal is left in {modes:?}"
        );
        assert_eq!(self.pane("#{alternate_on}"), "0", "after {how}");
        assert_eq!(self.pane("#{cursor_flag}"), "1", "after {how}: no cursor");
        // The table was drawn on the alternate screen, not left behind.
        assert!(!screen.contains("Every 0.2s"), "after {how}:\n{screen}");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// The `rx` column of the table's ET row.
fn et_rx(screen: &str) -> Option<u64> {
    let row = screen.lines().find(|l| l.starts_with("ET "))?;
    row.split_whitespace().nth(5)?.parse().ok()
}

#[test]
fn watch_redraws_in_a_terminal_and_ctrl_c_gives_it_back() {
    let grid = Grid::start("tty");
    let tmux = Tmux::start(&grid, "r0c0");
    let screen = tmux.await_screen("the table", |s| {
        s.contains("Every 0.2s: itc status") && s.contains("present") && et_rx(s).is_some()
    });
    assert_eq!(
        tmux.pane("#{alternate_on}"),
        "1",
        "not on the alternate screen"
    );
    assert_eq!(tmux.pane("#{cursor_flag}"), "0", "the cursor shows");
    // One title and one table, redrawn in place: not one after another.
    assert_eq!(screen.matches("Every 0.2s").count(), 1, "{screen}");

    // It refreshes: the hellos from r0c1 count up.
    let before = et_rx(&screen).unwrap();
    tmux.await_screen("the ET counter growing", |s| {
        et_rx(s).is_some_and(|n| n > before)
    });

    // A change in the grid shows without a keystroke.
    grid.ctl(&["cut", "r0c0", "ET"]);
    tmux.await_screen("ET down", |s| {
        s.lines()
            .any(|l| l.starts_with("ET ") && l.contains(" down "))
    });
    grid.ctl(&["restore", "r0c0", "ET"]);
    tmux.await_screen("ET up again", |s| {
        s.lines()
            .any(|l| l.starts_with("ET ") && l.contains(" present "))
    });

    tmux.run(&["send-keys", "C-c"]);
    tmux.assert_ended_cleanly("Ctrl-C");
}

#[test]
fn watch_ends_cleanly_on_sigterm_and_sighup() {
    let grid = Grid::start("signals");
    for sig in [Signal::SIGTERM, Signal::SIGHUP] {
        let tmux = Tmux::start(&grid, "r0c0");
        tmux.await_screen("the table", |s| {
            s.contains("Every 0.2s") && et_rx(s).is_some()
        });
        signal(tmux.itc_pid(), sig);
        tmux.assert_ended_cleanly(sig.as_str());
    }
}

#[test]
fn watch_exits_when_its_terminal_hangs_up() {
    let grid = Grid::start("hangup");
    let tmux = Tmux::start(&grid, "r0c0");
    tmux.await_screen("the table", |s| {
        s.contains("Every 0.2s") && et_rx(s).is_some()
    });
    let pid = tmux.itc_pid();
    drop(tmux);
    let gone = wait_for(DEADLINE, || {
        fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |stat| stat.split_whitespace().nth(2) == Some("Z"))
    });
    if !gone {
        signal(pid, Signal::SIGKILL);
    }
    assert!(gone, "itc {pid} still runs after its terminal hung up");
}

/// `itc status --watch` with its stdout read line by line.
struct Piped {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Piped {
    fn spawn(mut cmd: Command) -> Piped {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start itc");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Piped { child, lines }
    }

    /// Lines up to and including the first that satisfies `f`.
    fn until(&self, what: &str, f: impl Fn(&str) -> bool) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(DEADLINE) {
                Ok(line) => {
                    let done = f(&line);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => panic!("no {what} from itc; it printed:\n{}", seen.join("\n")),
            }
        }
    }
}

impl Drop for Piped {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn watch_into_a_pipe_prints_tables_one_after_another_until_sigint() {
    let grid = Grid::start("pipe");
    let mut itc = Piped::spawn(grid.watch("r0c0"));
    let is_title = |l: &str| l.starts_with("Every 0.2s: itc status ");
    let first = itc.until("a first title", is_title);
    let table = itc.until("a second title", is_title);
    // Between two titles: a blank line, the tile's line, the header, a row
    // per direction, and the blank line before the next title.
    assert!(
        table.iter().any(|l| l.starts_with("tile r0c0")),
        "{table:?}"
    );
    assert!(table.iter().any(|l| l.starts_with("dir ")), "{table:?}");
    assert!(table.iter().any(|l| l.starts_with("ET ")), "{table:?}");
    for line in first.iter().chain(&table) {
        assert!(
            !line.contains('\x1b'),
            "escape sequence into a pipe: {line:?}"
        );
    }

    signal(itc.child.id(), Signal::SIGINT);
    let exited = wait_for(DEADLINE, || matches!(itc.child.try_wait(), Ok(Some(_))));
    assert!(exited, "itc still runs after SIGINT");
    let status = itc.child.try_wait().unwrap().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn watch_shows_a_stopped_itcd_and_goes_on_when_it_is_back() {
    let grid = Grid::start("restart");
    let itc = Piped::spawn(grid.watch("r0c1"));
    itc.until("a table", |l| l.starts_with("WT "));
    grid.ctl(&["stop", "r0c1"]);
    let lines = itc.until("the error", |l| l.starts_with("itc: "));
    let error = lines.last().unwrap();
    assert!(error.contains("r0c1"), "the error names no file: {error}");
    grid.ctl(&["start", "r0c1"]);
    itc.until("a table again", |l| l.starts_with("WT "));
}

#[test]
fn watch_usage_errors_exit_2() {
    for args in [
        &["status", "--interval", "1"][..],
        &["status", "--watch", "--json"],
        &["status", "--watch", "--interval", "0.05"],
        &["status", "--watch", "--interval", "x"],
    ] {
        let out = Command::new(ITC)
            .args(["--mount", "/nonexistent"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run itc");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
