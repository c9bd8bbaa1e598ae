//! Hooks, through the real `itc-files` and `itc` binaries: a publish makes
//! a version live, and `HOOKS/NAME` runs once for it with the name, version
//! and path in its environment; its exit status is recorded; a failing hook
//! is not run again, not even after a restart; a hook that hangs is killed
//! after the time-out while the daemon keeps answering.
//!
//! No grid is needed: the daemon waits for a tree that is not there and
//! serves its control socket meanwhile, and a local publish goes live at
//! once. Guards stop the daemons; conditions are awaited with deadlines.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use test_support::{wait_for, workspace_bins};

const DEADLINE: Duration = Duration::from_secs(30);

fn itc() -> PathBuf {
    let files = PathBuf::from(env!("CARGO_BIN_EXE_itc-files"));
    let dir = files.parent().expect("a directory").to_path_buf();
    workspace_bins(&dir, &[("itc", "itc")]).remove(0)
}

struct Setup {
    dir: PathBuf,
    itc: PathBuf,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "itc-files-hooks-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("keys")).unwrap();
        fs::create_dir_all(dir.join("hooks")).unwrap();
        let s = Setup { dir, itc: itc() };
        let out = s.itc(&["files", "keygen", s.path("key").to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        fs::copy(s.path("key.pub"), s.path("keys/key.pub")).unwrap();
        s
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.join(p)
    }

    fn itc(&self, args: &[&str]) -> Output {
        Command::new(&self.itc)
            .args(args)
            .env_remove("ITC_STORE")
            .stdin(Stdio::null())
            .output()
            .expect("run itc")
    }

    fn files(&self, args: &[&str]) -> Output {
        let store = self.path("store");
        let mut all = vec!["files", "--store", store.to_str().unwrap()];
        all.extend_from_slice(args);
        self.itc(&all)
    }

    fn hook(&self, name: &str, script: &str) {
        let path = self.path("hooks").join(name);
        fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn publish(&self, name: &str, bytes: &[u8]) {
        let file = self.path(name);
        fs::write(&file, bytes).unwrap();
        let key = self.path("key");
        let out = self.files(&[
            "publish",
            file.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }

    fn json(&self) -> serde_json::Value {
        let out = self.files(&["status", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn hook_status(&self, name: &str) -> Option<String> {
        let s = self.json();
        let f = s["files"].as_array()?.iter().find(|f| f["name"] == name)?;
        f["hook"]["status"].as_str().map(str::to_string)
    }

    fn start(&self, extra: &[&str]) -> Daemon {
        let log = fs::File::create(self.path("daemon.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_itc-files"))
            .arg("--mount")
            .arg(self.path("no-tree"))
            .arg("--store")
            .arg(self.path("store"))
            .arg("--keys")
            .arg(self.path("keys"))
            .arg("--hooks")
            .arg(self.path("hooks"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start itc-files");
        let d = Daemon { child };
        let up = || self.files(&["status"]).status.success();
        assert!(
            wait_for(DEADLINE, up),
            "never served: {}",
            fs::read_to_string(self.path("daemon.log")).unwrap_or_default()
        );
        d
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

struct Daemon {
    child: Child,
}

impl Daemon {
    fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) -> Option<i32> {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let end = Instant::now() + DEADLINE;
        while Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let code = self.terminate();
        if !std::thread::panicking() {
            assert_eq!(code, Some(0), "itc-files exits 0 on SIGTERM");
        }
    }
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_hook_runs_once_per_install_with_the_file_in_its_environment() {
    let s = Setup::new("env");
    let out = s.path("ran");
    s.hook(
        "physics.mfz",
        &format!(
            "echo \"$ITC_FILE_NAME $ITC_FILE_VERSION $ITC_FILE_PATH $(cat \"$ITC_FILE_PATH\")\" >> {}",
            out.display()
        ),
    );
    let d = s.start(&[]);
    s.publish("physics.mfz", b"first");
    assert!(wait_for(DEADLINE, || lines(&out).len() == 1));
    assert!(wait_for(DEADLINE, || s
        .hook_status("physics.mfz")
        .as_deref()
        == Some("exit 0")));
    let ran = lines(&out);
    let fields: Vec<&str> = ran[0].split(' ').collect();
    assert_eq!(fields[0], "physics.mfz");
    let version: u64 = fields[1].parse().unwrap();
    assert_eq!(PathBuf::from(fields[2]), s.path("store/live/physics.mfz"));
    assert_eq!(fields[3], "first");
    let live = &s.json()["files"][0]["live"];
    assert_eq!(live["version"].as_u64(), Some(version));

    // A newer version runs it again, once.
    s.publish("physics.mfz", b"second");
    assert!(wait_for(DEADLINE, || lines(&out).len() == 2));
    assert!(lines(&out)[1].ends_with("second"));
    // Its output is written before it exits: wait for the exit to be
    // recorded, or the stop below would cut the run short.
    assert!(wait_for(DEADLINE, || s
        .hook_status("physics.mfz")
        .as_deref()
        == Some("exit 0")));
    // A restart does not run it for what is already live.
    d.stop();
    let d = s.start(&[]);
    assert!(wait_for(DEADLINE, || s
        .hook_status("physics.mfz")
        .as_deref()
        == Some("exit 0")));
    assert_eq!(lines(&out).len(), 2);
    // No hook, or one that is not executable: nothing runs.
    fs::write(
        s.path("hooks/plain.txt"),
        "#!/bin/sh\necho ran >> /dev/null\n",
    )
    .unwrap();
    s.publish("plain.txt", b"x");
    s.publish("other.bin", b"y");
    let status = s.json();
    for f in status["files"].as_array().unwrap() {
        if f["name"] != "physics.mfz" {
            assert!(f["hook"].is_null(), "{f}");
        }
    }
    assert_eq!(
        status["counters"]["hooks_run"].as_u64(),
        Some(0),
        "this run"
    );
    drop(d);
}

#[test]
fn a_failing_hook_is_recorded_and_never_run_again() {
    let s = Setup::new("fail");
    let count = s.path("count");
    s.hook("maps", &format!("echo run >> {}; exit 3", count.display()));
    let d = s.start(&[]);
    s.publish("maps", b"v1");
    assert!(wait_for(DEADLINE, || s.hook_status("maps").as_deref()
        == Some("exit 3")));
    let status = s.json();
    assert_eq!(status["counters"]["hooks_failed"].as_u64(), Some(1));
    assert_eq!(status["files"][0]["live"]["length"].as_u64(), Some(2));
    d.stop();
    let _d = s.start(&[]);
    // Whatever the daemon does at start is done once it answers.
    assert_eq!(s.hook_status("maps").as_deref(), Some("exit 3"));
    assert_eq!(lines(&count).len(), 1);
}

#[test]
fn a_hook_that_hangs_is_killed_and_the_daemon_keeps_answering() {
    let s = Setup::new("hang");
    let started = s.path("started");
    s.hook(
        "slow",
        &format!("touch {}; exec sleep 600", started.display()),
    );
    let _d = s.start(&["--hook-timeout", "1"]);
    s.publish("slow", b"z");
    assert!(wait_for(DEADLINE, || started.exists()));
    // While it runs, the daemon answers.
    assert_eq!(s.hook_status("slow").as_deref(), Some("running"));
    assert!(wait_for(DEADLINE, || s.hook_status("slow").as_deref()
        == Some("timed out after 1 s")));
    assert_eq!(s.json()["counters"]["hooks_failed"].as_u64(), Some(1));
}
