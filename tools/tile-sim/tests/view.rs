//! `tile-sim view` as a user sees it: in a real terminal (a detached
//! `tmux` session of 80x24 on a server of its own), over a real grid of
//! `itcd`s, driven with keystrokes (`tmux send-keys`) and read back from
//! the screen (`tmux capture-pane`).
//!
//! The view runs from a small shell script that, once the view has quit,
//! prints its exit status and the terminal's modes (`stty -a`), so a test
//! sees whether the terminal was given back in cooked mode with echo.
//! Guards kill the tmux server (by its own socket name) and stop the grid
//! (by pid), also when a test fails. Nothing sleeps for a fixed time:
//! every condition is awaited with a deadline.

mod common;

use std::fs;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{scratch, Grid, DEADLINE, TILE_SIM};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use test_support::wait_for;

/// A tmux server of its own (`tmux -L NAME`) with one 80x24 session that
/// runs `tile-sim view` on `dir`; the server is killed on drop.
struct Tmux {
    socket: String,
}

/// Runs the view, then reports how it ended and the terminal's modes, and
/// keeps the pane open (reading the terminal) until the server is killed.
/// The shell outlives a SIGINT, as an interactive one does.
const SCRIPT: &str = r#"trap : INT
"$1" view --dir "$2"
echo "view exited $?"
echo "modes: $(stty -a | tr ' ;' '\n\n' | grep -x -E -e '-?icanon' -e '-?echo' | tr '\n' ' ')"
exec cat
"#;

impl Tmux {
    fn start(grid: &Grid) -> Tmux {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let socket = format!("tile-sim-view-test-{}-{n}", std::process::id());
        let script = grid.base.join(format!("view-{n}.sh"));
        fs::write(&script, SCRIPT).expect("write the script");
        let tmux = Tmux { socket };
        let command = format!(
            "sh '{}' '{}' '{}'",
            script.display(),
            TILE_SIM,
            grid.dir.display()
        );
        let out = tmux.run(&["new-session", "-d", "-x", "80", "-y", "24", &command]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            // No user configuration: the defaults, the same everywhere.
            .args(["-f", "/dev/null", "-L", &self.socket])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux (apt-get install tmux)")
    }

    /// The screen as text, one string per line.
    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p"]).stdout).into_owned()
    }

    /// The screen with colours, as escape sequences.
    fn screen_coloured(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-e"]).stdout).into_owned()
    }

    /// A value of the pane (`#{alternate_on}`, `#{pane_pid}`).
    fn pane(&self, format: &str) -> String {
        let out = self.run(&["display-message", "-p", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "tmux send-keys: {out:?}");
    }

    /// Waits until the screen satisfies `f`; panics with it otherwise.
    fn await_screen(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let held = wait_for(DEADLINE, || {
            last = self.screen();
            f(&last)
        });
        assert!(held, "the screen never showed {what}:\n{last}");
        last
    }

    /// The pid of the view: the shell's child.
    fn view_pid(&self) -> u32 {
        let shell = self.pane("#{pane_pid}");
        let mut pid = None;
        let found = wait_for(DEADLINE, || {
            let children = fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
                .unwrap_or_default();
            pid = children.split_whitespace().find_map(|p| {
                let cmdline = fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                String::from_utf8_lossy(&cmdline)
                    .contains("view")
                    .then(|| p.parse().ok())
                    .flatten()
            });
            pid.is_some()
        });
        assert!(found, "no view process under the pane's shell {shell}");
        pid.expect("found")
    }

    /// Waits until the view has quit, and checks it exited 0 and gave the
    /// terminal back: the main screen, cooked mode with echo.
    fn assert_quit_cleanly(&self, how: &str) {
        let screen = self.await_screen(&format!("the view quitting after {how}"), |s| {
            s.contains("modes: ")
        });
        assert!(
            screen.contains("view exited 0"),
            "after {how}, not exit status 0:\n{screen}"
        );
        let modes = screen
            .lines()
            .find_map(|l| l.strip_prefix("modes: "))
            .expect("a modes line")
            .split_whitespace()
            .collect::<Vec<_>>();
        assert!(
            modes.contains(&"icanon") && modes.contains(&"echo"),
            "after {how}, the terminal is left in {modes:?}:\n{screen}"
        );
        assert_eq!(
            self.pane("#{alternate_on}"),
            "0",
            "after {how}, still on the alternate screen"
        );
        assert_eq!(
            self.pane("#{cursor_flag}"),
            "1",
            "after {how}, the cursor is hidden"
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Hangs up the pane: the view (if still running), the shell and
        // cat get SIGHUP.
        let _ = self.run(&["kill-server"]);
    }
}

/// The column where `word` starts on the screen's line `line`.
fn column(screen: &str, line: usize, word: &str) -> Option<usize> {
    screen.lines().nth(line)?.find(word)
}

/// Whether the line of `a` shows an up wire with a packet rate between
/// `a` and `b` (`r0c0   -- 12 --   r0c1`).
fn up_with_rate(screen: &str, a: &str, b: &str) -> bool {
    screen.lines().any(|l| {
        let (Some(i), Some(j)) = (l.find(a), l.find(b)) else {
            return false;
        };
        let between = l
            .get(i + a.len()..j)
            .unwrap_or("")
            .trim_matches([' ', '<', '>']);
        between.starts_with("--")
            && between
                .trim_matches('-')
                .trim()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
    })
}

/// The number in the `rx` column of the selected tile's `ET` row.
fn selected_et_rx(screen: &str) -> Option<u64> {
    let row = screen.lines().find(|l| l.starts_with(">ET "))?;
    row.split_whitespace().nth(7)?.parse().ok()
}

#[test]
fn a_4x4_grid_in_80x24_live_and_driven_by_keys() {
    let grid = Grid::start("keys", 4, 4);
    let tmux = Tmux::start(&grid);

    // Every tile, in its hex-offset place: a row's tiles 18 columns apart,
    // odd rows half of that to the right; nothing asks for a bigger
    // terminal.
    let screen = tmux.await_screen("all sixteen tiles with packet rates", |s| {
        grid.names.iter().all(|n| s.contains(n.as_str())) && up_with_rate(s, "r0c0", "r0c1")
    });
    assert!(screen.contains("4x4"), "{screen}");
    assert!(!screen.contains("needs"), "{screen}");
    for r in 0..4 {
        let line = 1 + 3 * r;
        let first = column(&screen, line, &format!("r{r}c0")).expect("a tile");
        for c in 1..4 {
            let at = column(&screen, line, &format!("r{r}c{c}"))
                .unwrap_or_else(|| panic!("r{r}c{c} not on line {line}:\n{screen}"));
            assert_eq!(at, first + 18 * c, "r{r}c{c}:\n{screen}");
        }
        if r % 2 == 1 {
            let above = column(&screen, line - 3, &format!("r{}c0", r - 1)).unwrap();
            assert_eq!(first, above + 9, "row {r} is not shifted:\n{screen}");
        }
    }
    assert!(screen.contains("q quit"), "no keys line:\n{screen}");

    // The picture refreshes by itself: the counters of r0c0's ET grow.
    let before = selected_et_rx(&screen).expect("r0c0's ET row");
    tmux.await_screen("r0c0's ET counter growing", |s| {
        selected_et_rx(s).is_some_and(|n| n > before)
    });

    // c cuts the selected wire (r0c0 ET) through the control socket; both
    // the grid and the screen show it, in red; r restores it.
    tmux.keys(&["c"]);
    tmux.await_screen("the cut", |s| s.contains("cut r0c0 ET: done"));
    assert!(
        grid.listed("r0c0").contains("ET:down"),
        "{}",
        grid.listed("r0c0")
    );
    let screen = tmux.await_screen("the cut wire", |s| {
        s.lines().nth(1).is_some_and(|l| l.contains(" cut "))
    });
    let coloured = tmux.screen_coloured();
    let cut_line = coloured.lines().nth(1).unwrap_or_default();
    let at = cut_line.find(" cut ").expect("the cut wire");
    // The colour set just before the word: red, as tmux writes it (the
    // 8-colour or the 256-colour form).
    let before = cut_line[..at].trim_end_matches(' ');
    assert!(
        ["[31m", ";31m", "[38;5;1m", ";38;5;1m"]
            .iter()
            .any(|red| before.ends_with(red)),
        "the cut wire is not red: {cut_line:?}\n{screen}"
    );
    tmux.keys(&["r"]);
    tmux.await_screen("the restore", |s| s.contains("restore r0c0 ET: done"));
    assert!(grid.listed("r0c0").contains("ET:up"));
    tmux.await_screen("the wire up again", |s| up_with_rate(s, "r0c0", "r0c1"));

    // Packets nobody reads at r0c3 are dropped there and counted: the
    // tile shows its drops.
    grid.send_unread("r0c2", 3);
    tmux.await_screen("r0c3's drops", |s| {
        s.lines().nth(2).is_some_and(|l| {
            l.split("drops")
                .next()
                .and_then(|before| before.split_whitespace().last()?.parse::<u64>().ok())
                >= Some(3)
        })
    });

    // A tile of another physics: its wires show as incompatible.
    fs::write(grid.dir.join("r3c3/itc/physics"), "other\n").expect("set r3c3's physics");
    tmux.await_screen("r3c2-r3c3 incompatible", |s| {
        s.lines().any(|l| l.contains("r3c2   ~ phys ~   r3c3"))
    });
    fs::write(grid.dir.join("r3c3/itc/physics"), "\n").expect("clear r3c3's physics");
    tmux.await_screen("r3c2-r3c3 up again", |s| up_with_rate(s, "r3c2", "r3c3"));

    // Right arrow to r0c1; s stops its itcd, t starts it again.
    tmux.keys(&["Right"]);
    tmux.await_screen("r0c1 selected", |s| s.contains(">  r0c1  <"));
    tmux.keys(&["s"]);
    tmux.await_screen("the stop", |s| s.contains("stop r0c1: done"));
    assert!(
        grid.listed("r0c1").contains(" stopped "),
        "{}",
        grid.listed("r0c1")
    );
    tmux.await_screen("r0c1 stopped", |s| {
        s.lines().nth(2).is_some_and(|l| l.contains("stopped"))
    });
    tmux.keys(&["t"]);
    tmux.await_screen("the start", |s| s.contains("start r0c1: done"));
    assert!(grid.listed("r0c1").contains(" running "));
    tmux.await_screen("r0c1's wires up again", |s| {
        up_with_rate(s, "r0c0", "r0c1") && up_with_rate(s, "r0c1", "r0c2")
    });

    tmux.keys(&["q"]);
    tmux.assert_quit_cleanly("q");
}

#[test]
fn the_view_quits_cleanly_on_ctrl_c_sigint_sigterm_and_sighup() {
    let grid = Grid::start("quit", 1, 2);
    let ways: [(&str, Option<Signal>); 4] = [
        ("Ctrl-C", None),
        ("SIGINT", Some(Signal::SIGINT)),
        ("SIGTERM", Some(Signal::SIGTERM)),
        ("SIGHUP", Some(Signal::SIGHUP)),
    ];
    for (how, signal) in ways {
        let tmux = Tmux::start(&grid);
        tmux.await_screen("the grid", |s| s.contains("r0c0") && s.contains("r0c1"));
        assert_eq!(tmux.pane("#{alternate_on}"), "1", "no alternate screen");
        match signal {
            None => tmux.keys(&["C-c"]),
            Some(sig) => kill(Pid::from_raw(tmux.view_pid() as i32), sig).expect("signal the view"),
        }
        tmux.assert_quit_cleanly(how);
    }
}

#[test]
fn the_view_exits_when_its_terminal_hangs_up() {
    let grid = Grid::start("hangup", 1, 2);
    let tmux = Tmux::start(&grid);
    tmux.await_screen("the grid", |s| s.contains("r0c0") && s.contains("r0c1"));
    let pid = tmux.view_pid();
    // The terminal goes away under the view (an ssh connection drops):
    // reads of it return end-of-file, and the view must not spin on them.
    drop(tmux);
    let gone = wait_for(DEADLINE, || {
        fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |stat| stat.split_whitespace().nth(2) == Some("Z"))
    });
    if !gone {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    assert!(gone, "the view {pid} still runs after its terminal hung up");
}

#[test]
fn without_a_grid_the_view_says_so_and_exits_2() {
    let base = scratch("none");
    let out = Command::new(TILE_SIM)
        .args(["view", "--dir"])
        .arg(base.join("nothing"))
        .stdin(Stdio::null())
        .output()
        .expect("run tile-sim view");
    let _ = fs::remove_dir_all(&base);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no tile-sim running at"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn the_view_looks_at_least_once_a_second() {
    // Slower intervals are refused before anything is looked at.
    for interval in ["1.5", "0.05", "x"] {
        let out = Command::new(TILE_SIM)
            .args(["view", "--dir", "/nonexistent", "--interval", interval])
            .stdin(Stdio::null())
            .output()
            .expect("run tile-sim view");
        assert_eq!(out.status.code(), Some(2), "--interval {interval}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("from 0.1 to 1"),
            "--interval {interval}: {stderr}"
        );
    }
}
