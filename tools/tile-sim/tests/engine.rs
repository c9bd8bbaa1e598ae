//! What a program holding `itc/mfm` (an MFM engine) really sees when its
//! tile's physics changes and when its `itcd` stops and starts again, so
//! that the README's engine loop handles the right errnos. A 1x2 grid of
//! real `itcd`s under a real `tile-sim run`, driven with `tile-sim ctl`;
//! the engine is this test, with plain system calls: a blocking `read()`
//! (parked in `itcd`) on one file, `poll()` and a nonblocking `read()` on
//! another. A guard stops the grid and removes its directory, also when
//! the test fails. Conditions are awaited with deadlines.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, IntoRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use test_support::{status_value, unmount_all_under, wait_for, workspace_bins};

const TILE_SIM: &str = env!("CARGO_BIN_EXE_tile-sim");

/// Deadline for every awaited condition; generous, as tests share the CPU.
const DEADLINE: Duration = Duration::from_secs(20);

/// A running `tile-sim run --rows 1 --cols 2` in a directory of its own.
struct Grid {
    child: Option<Child>,
    base: PathBuf,
    dir: PathBuf,
}

impl Grid {
    fn start(tag: &str) -> Grid {
        let bin_dir = Path::new(TILE_SIM).parent().expect("tile-sim's directory");
        workspace_bins(bin_dir, &[("itcio", "itcd")]);
        let base =
            std::env::temp_dir().join(format!("tile-sim-engine-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).expect("create the test directory");
        let dir = base.join("grid");
        let child = Command::new(TILE_SIM)
            .args(["run", "--rows", "1", "--cols", "2", "--rate", "0"])
            .args(["--hello", "100", "--dir"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(File::create(base.join("stdout")).expect("stdout file"))
            .stderr(File::create(base.join("stderr")).expect("stderr file"))
            .spawn()
            .expect("start tile-sim run");
        let grid = Grid {
            child: Some(child),
            base,
            dir,
        };
        grid.await_present();
        grid
    }

    fn tree(&self) -> PathBuf {
        self.dir.join("r0c0")
    }

    /// Waits until r0c0 sees its neighbour at ET.
    fn await_present(&self) {
        let status = self.tree().join("tile/ET/status");
        assert!(
            wait_for(DEADLINE, || status_value(&status, "peer") == "present"),
            "r0c0 never saw r0c1; stderr:\n{}",
            fs::read_to_string(self.base.join("stderr")).unwrap_or_default()
        );
    }

    fn ctl(&self, args: &[&str]) {
        let out = Command::new(TILE_SIM)
            .args(["ctl", "--dir"])
            .arg(&self.dir)
            .args(args)
            .output()
            .expect("run tile-sim ctl");
        assert!(out.status.success(), "ctl {args:?}: {out:?}");
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

fn errno(e: &io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(0))
}

/// An engine thread blocked in `read()` on `path`: it reads until a read
/// fails, then reads once more; the two errnos come back on the channel.
struct BlockedReader {
    errnos: mpsc::Receiver<(Errno, Errno)>,
    tid: mpsc::Receiver<i32>,
}

impl BlockedReader {
    fn start(path: &Path) -> BlockedReader {
        let mut file = File::open(path).expect("open for a blocking read");
        let (tx, errnos) = mpsc::channel();
        let (tid_tx, tid) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tid_tx.send(nix::unistd::gettid().as_raw());
            let mut buf = [0u8; 256];
            let first = loop {
                if let Err(e) = file.read(&mut buf) {
                    break errno(&e);
                }
            };
            let second = file
                .read(&mut buf)
                .map_or_else(|e| errno(&e), |_| Errno::UnknownErrno);
            let _ = tx.send((first, second));
        });
        BlockedReader { errnos, tid }
    }

    /// Waits until the thread's `read()` waits for `itcd`'s answer.
    fn await_parked(&self) {
        let tid = self
            .tid
            .recv_timeout(DEADLINE)
            .expect("the reader's thread id");
        let wchan = format!("/proc/self/task/{tid}/wchan");
        assert!(
            wait_for(DEADLINE, || fs::read_to_string(&wchan)
                .is_ok_and(|w| w.contains("request_wait_answer"))),
            "the reader never waited in read()"
        );
    }

    fn errnos(&self) -> (Errno, Errno) {
        self.errnos
            .recv_timeout(DEADLINE)
            .expect("the blocked read ended")
    }
}

/// Opens `path` nonblocking and reads what is queued (the Connect events
/// of the snapshot).
fn open_drained(path: &Path) -> File {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .expect("open nonblocking");
    let mut buf = [0u8; 256];
    while file.read(&mut buf).is_ok() {}
    file
}

/// What `poll()` reports for `file` within the deadline.
fn poll_events(file: &File) -> PollFlags {
    let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
    let n = poll(&mut fds, PollTimeout::from(20_000u16)).expect("poll");
    assert_eq!(n, 1, "poll timed out");
    fds[0].revents().expect("revents")
}

fn read_errno(file: &mut File) -> Errno {
    let mut buf = [0u8; 256];
    match file.read(&mut buf) {
        Ok(n) => panic!("read {n} bytes instead of failing"),
        Err(e) => errno(&e),
    }
}

/// A physics change makes every open MFM file fail `ESTALE`, also a read
/// parked in `itcd`, and `poll` report `POLLERR`; a new open works.
#[test]
fn a_physics_change_fails_mfm_reads_with_estale_until_reopened() {
    let grid = Grid::start("stale");
    let tree = grid.tree();
    let blocked = BlockedReader::start(&tree.join("itc/mfm"));
    blocked.await_parked();
    let mut polled = open_drained(&tree.join("tile/ET/mfm"));

    fs::write(tree.join("itc/physics"), "other\n").expect("set the physics");
    assert_eq!(blocked.errnos(), (Errno::ESTALE, Errno::ESTALE));
    assert!(poll_events(&polled).contains(PollFlags::POLLERR));
    assert_eq!(read_errno(&mut polled), Errno::ESTALE);
    drop(polled);

    // Reopened, the file works again (empty, as nothing was sent).
    let mut again = open_drained(&tree.join("tile/ET/mfm"));
    assert_eq!(read_errno(&mut again), Errno::EAGAIN);
}

/// When `itcd` stops, a read parked in it fails `ECONNABORTED` and every
/// later call `ENOTCONN` (`poll` reports `POLLERR`; a nonblocking read
/// after `poll`, and even `close`, fail `ENOTCONN`). While it is away the
/// path names the bare mount point (`ENOENT`); once `ctl start` returns
/// the tree is served and the path opens again.
#[test]
fn a_stopped_itcd_fails_reads_with_econnaborted_then_enotconn() {
    let grid = Grid::start("restart");
    let tree = grid.tree();
    let blocked = BlockedReader::start(&tree.join("itc/mfm"));
    blocked.await_parked();
    let mut polled = open_drained(&tree.join("tile/ET/mfm"));

    grid.ctl(&["stop", "r0c0"]);
    assert_eq!(blocked.errnos(), (Errno::ECONNABORTED, Errno::ENOTCONN));
    assert!(poll_events(&polled).contains(PollFlags::POLLERR));
    assert_eq!(read_errno(&mut polled), Errno::ENOTCONN);
    assert_eq!(
        nix::unistd::close(polled.into_raw_fd()),
        Err(Errno::ENOTCONN),
        "close of a file of a stopped itcd"
    );
    let away = File::open(tree.join("itc/mfm")).map_err(|e| errno(&e));
    assert_eq!(away.err(), Some(Errno::ENOENT));

    grid.ctl(&["start", "r0c0"]);
    grid.await_present();
    let mut back = open_drained(&tree.join("itc/mfm"));
    assert_eq!(read_errno(&mut back), Errno::EAGAIN);
}
