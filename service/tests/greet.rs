//! The `greet` example as a user runs it: one process per tile of a real
//! 1x2 grid. The second one to start greets the first, which answers;
//! both print what they see, and both ride out a restart of the second
//! tile's `itcd`. The processes are stopped with SIGTERM by a guard, also
//! when the test fails.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{exe_dir, signal, wait_child, Grid, DEADLINE};
use nix::sys::signal::Signal;
use test_support::wait_for;

/// Builds the example `name` of this package next to the test's binaries
/// (`target/debug/examples`); `cargo test --test greet` alone does not.
fn example(name: &str) -> PathBuf {
    let dir = exe_dir();
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_string(),
        Some(other) => other.to_string(),
    };
    // TARGET/PROFILE, or TARGET/TRIPLE/PROFILE when built for a target.
    let up = dir.parent().expect("a target directory");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "-p", "itc-service", "--example", name, "--profile"])
        .arg(&profile);
    if up.join("CACHEDIR.TAG").is_file() {
        cmd.arg("--target-dir").arg(up);
    } else {
        let triple = up.file_name().expect("a target triple");
        let target = up.parent().expect("a target directory");
        cmd.arg("--target-dir")
            .arg(target)
            .arg("--target")
            .arg(triple);
    }
    let out = cmd.output().expect("run cargo");
    assert!(
        out.status.success(),
        "building the {name} example failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("examples").join(name)
}

/// A running `greet`, its output in a file; stopped on drop.
struct Greet {
    child: Option<Child>,
    out: PathBuf,
}

impl Greet {
    fn start(bin: &Path, mount: &Path, name: &str, out: PathBuf) -> Greet {
        let child = Command::new(bin)
            .arg("--mount")
            .arg(mount)
            .args(["--name", name])
            .env_remove("ITC_MOUNT")
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).expect("output file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("start greet");
        Greet {
            child: Some(child),
            out,
        }
    }

    fn lines(&self) -> Vec<String> {
        fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn wait_lines(&self, want: &[&str]) {
        assert!(
            wait_for(DEADLINE, || self.lines() == want),
            "{}: wanted {want:?}, printed {:?}",
            self.out.display(),
            self.lines()
        );
    }

    fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Greet {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), Signal::SIGTERM);
            wait_child(&mut child, DEADLINE);
        }
    }
}

#[test]
fn greet_greets_answers_and_rides_out_a_restart() {
    let bin = example("greet");
    let grid = Grid::start("greet", &["--rate", "0"]);
    let a = Greet::start(&bin, &grid.mount("r0c0"), "alpha", grid.dir.join("a.out"));
    a.wait_lines(&["ET: connected"]);
    let mut b = Greet::start(&bin, &grid.mount("r0c1"), "beta", grid.dir.join("b.out"));
    // b's greeting reaches a, which answers; a's greeting went out before
    // b was there to read it.
    a.wait_lines(&["ET: connected", "ET: greeting from beta"]);
    b.wait_lines(&["WT: connected", "WT: alpha answered"]);

    grid.ctl(&["stop", "r0c1"]);
    b.wait_lines(&["WT: connected", "WT: alpha answered", "WT: disconnected"]);
    a.wait_lines(&[
        "ET: connected",
        "ET: greeting from beta",
        "ET: disconnected",
    ]);
    assert!(b.alive(), "greet keeps running while its tree is away");
    grid.ctl(&["start", "r0c1"]);
    // Both see the other again; the one whose file opens later greets the
    // other, which answers. A greeting sent before the other end's file is
    // open again is lost (nobody reads it), so the reverse exchange may or
    // may not show.
    let again = |g: &Greet, d: &str, other: &str, must: &str| {
        let lines = g.lines();
        let tail: Vec<String> = lines.into_iter().skip(3).collect();
        let line = |what: &str| format!("{d}: {what}");
        let allowed = [
            line("connected"),
            line(&format!("greeting from {other}")),
            line(&format!("{other} answered")),
        ];
        tail.first() == Some(&line("connected"))
            && tail.contains(&line(must))
            && tail.iter().all(|l| allowed.contains(l))
    };
    assert!(
        wait_for(DEADLINE, || again(&a, "ET", "beta", "greeting from beta")
            && again(&b, "WT", "alpha", "alpha answered")),
        "after the restart: a printed {:?}, b printed {:?}",
        a.lines(),
        b.lines()
    );
}
