//! Test harness: real `itcd` processes on real FUSE mounts, wired together
//! by the emulated PRU side (`itc_emu`). Everything a test starts is
//! stopped and unmounted in `Drop`, also when the test fails.
#![allow(dead_code)]

use std::fs;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use itc_emu::{LinkParams, PacketModel, TileId, Wires};
use itc_proto::{Dir, Pru};

pub mod hand;
pub use test_support::wait_for;

/// Default deadline for conditions in tests.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Assert a condition becomes true before the default deadline.
#[macro_export]
macro_rules! eventually {
    ($cond:expr, $($msg:tt)+) => {
        assert!($crate::common::wait_for($crate::common::DEADLINE, || $cond), $($msg)+)
    };
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let base = std::env::temp_dir().join(format!(
            "itc-{tag}-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos() ^ rand_u64()
        ));
        fs::create_dir_all(&base).expect("create temp dir");
        TempDir(base)
    }
}

fn rand_u64() -> u128 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.as_nanos() % 1_000_000_007
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) with a pid this test started; no memory involved.
    unsafe { libc::kill(pid as i32, sig) };
}

/// One real `itcd` process and its mount.
pub struct TileProc {
    pub name: String,
    pub mount: PathBuf,
    pub child: Option<Child>,
    pub args: Vec<String>,
    pub log: PathBuf,
}

impl TileProc {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Path inside the mount.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.mount.join(rel)
    }

    pub fn read_to_string(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_default()
    }

    /// Value of `key` in a `key: value` file.
    pub fn status_value(&self, rel: &str, key: &str) -> String {
        test_support::status_value(&self.path(rel), key)
    }

    pub fn dir_status(&self, dir: Dir, key: &str) -> String {
        self.status_value(&format!("tile/{dir}/status"), key)
    }

    pub fn counter(&self, dir: Dir, key: &str) -> u64 {
        self.dir_status(dir, key).parse().unwrap_or(0)
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Start (or restart) the process and wait until the tree is served.
    pub fn start(&mut self) {
        let log = fs::File::create(&self.log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_itcd"))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn itcd");
        self.child = Some(child);
        let name = self.name.clone();
        let served = wait_for(DEADLINE, || {
            self.status_value("itc/self", "name") == name
                && self.status_value("itc/self", "pid") == self.pid().to_string()
        });
        assert!(
            served,
            "itcd {} did not serve its tree; log:\n{}",
            self.name,
            self.log_text()
        );
    }

    /// Stop with SIGTERM; returns the exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        signal(child.id(), libc::SIGTERM);
        let end = Instant::now() + DEADLINE;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return status.code(),
                Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(5)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        }
    }
}

impl Drop for TileProc {
    fn drop(&mut self) {
        self.stop();
        let _ = test_support::detach(&self.mount);
    }
}

/// A set of tiles wired by the emulated PRU side.
pub struct Grid {
    // Field order is drop order: tiles stop before the wires go away.
    pub tiles: Vec<TileProc>,
    pub ids: Vec<TileId>,
    pub sim: Option<PacketModel>,
    pub sockets: PathBuf,
    pub dir: TempDir,
}

/// How to build a grid.
pub struct GridSpec {
    pub names: Vec<&'static str>,
    pub links: Vec<(usize, Dir, usize)>,
    pub params: LinkParams,
    pub extra_args: Vec<Vec<String>>,
    pub hello_ms: u64,
    pub absent_ms: u64,
}

impl GridSpec {
    /// Two tiles, A's ET wired to B's WT.
    pub fn pair() -> GridSpec {
        GridSpec {
            names: vec!["A", "B"],
            links: vec![(0, Dir::ET, 1)],
            params: LinkParams::default(),
            extra_args: vec![vec![], vec![]],
            hello_ms: 100,
            absent_ms: 2000,
        }
    }
}

impl Grid {
    pub fn start(spec: GridSpec) -> Grid {
        let dir = TempDir::new("grid");
        let sockets = dir.0.join("s");
        fs::create_dir_all(&sockets).expect("socket dir");
        let mut wires = Wires::new(&sockets, spec.params.clone());
        let ids: Vec<TileId> = spec.names.iter().map(|n| wires.add_tile(n)).collect();
        for (a, d, b) in &spec.links {
            wires.connect(ids[*a], *d, ids[*b]);
        }
        let socket_paths: Vec<[PathBuf; 2]> = ids
            .iter()
            .map(|id| {
                [
                    wires.pru_socket(*id, Pru::Pru0),
                    wires.pru_socket(*id, Pru::Pru1),
                ]
            })
            .collect();
        let sim = PacketModel::start(wires).expect("start PRU emulation");
        let mut grid = Grid {
            tiles: Vec::new(),
            ids,
            sim: Some(sim),
            sockets,
            dir,
        };
        for (i, name) in spec.names.iter().enumerate() {
            let mount = grid.dir.0.join(name);
            fs::create_dir_all(&mount).expect("mount dir");
            let mut args = vec![
                "--pru0".to_string(),
                socket_paths[i][0].display().to_string(),
                "--pru1".to_string(),
                socket_paths[i][1].display().to_string(),
                "--mount".to_string(),
                mount.display().to_string(),
                "--name".to_string(),
                name.to_string(),
                "--hello-ms".to_string(),
                spec.hello_ms.to_string(),
                "--absent-ms".to_string(),
                spec.absent_ms.to_string(),
                "--log-level".to_string(),
                "debug".to_string(),
            ];
            if let Some(extra) = spec.extra_args.get(i) {
                args.extend(extra.iter().cloned());
            }
            let mut tile = TileProc {
                name: name.to_string(),
                mount,
                child: None,
                args,
                log: grid.dir.0.join(format!("{name}.log")),
            };
            tile.start();
            grid.tiles.push(tile);
        }
        grid
    }

    pub fn sim(&self) -> &PacketModel {
        self.sim.as_ref().expect("emulation running")
    }

    pub fn tile(&self, i: usize) -> &TileProc {
        &self.tiles[i]
    }

    /// Wait until tile `i` sees a present neighbour at `dir`.
    pub fn wait_present(&self, i: usize, dir: Dir) {
        let t = &self.tiles[i];
        let ok = wait_for(DEADLINE, || t.dir_status(dir, "peer") == "present");
        assert!(
            ok,
            "{} never saw a neighbour at {dir}; log:\n{}",
            t.name,
            t.log_text()
        );
    }

    /// Every tile's status files and log, for failure messages.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for t in &self.tiles {
            out.push_str(&format!(
                "--- {} itc/status\n{}",
                t.name,
                t.read_to_string("itc/status")
            ));
            for d in Dir::ALL {
                let st = t.read_to_string(&format!("tile/{d}/status"));
                if st.contains("link: up") || st.contains("drop_") && !st.contains("peer: absent") {
                    out.push_str(&format!("--- {} tile/{d}/status\n{st}", t.name));
                }
            }
            out.push_str(&format!("--- {} log\n{}", t.name, t.log_text()));
        }
        out
    }

    /// Wait until both ends of a pair see each other.
    pub fn wait_pair(&self) {
        self.wait_present(0, Dir::ET);
        self.wait_present(1, Dir::WT);
    }
}

/// Open a tree file with raw flags.
pub fn open(path: &Path, flags: i32) -> io::Result<fs::File> {
    let acc = flags & libc::O_ACCMODE;
    fs::OpenOptions::new()
        .read(acc == libc::O_RDONLY || acc == libc::O_RDWR)
        .write(acc == libc::O_WRONLY || acc == libc::O_RDWR)
        .custom_flags(flags & !libc::O_ACCMODE)
        .open(path)
}

/// The errno of an I/O result, or 0 on success.
pub fn errno<T>(r: &io::Result<T>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// One `read(2)` with a buffer of `size` bytes.
pub fn read_packet(f: &fs::File, size: usize) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = vec![0u8; size];
    let n = (&*f).read(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// One `write(2)`.
pub fn write_packet(f: &fs::File, data: &[u8]) -> io::Result<usize> {
    use std::io::Write;
    (&*f).write(data)
}

/// `poll(2)` one descriptor; returns the revents.
pub fn poll_fd(f: &fs::File, events: i16, timeout_ms: i32) -> i16 {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: f.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: pfd is a valid pollfd array of length 1 for the call's duration.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if n <= 0 {
        0
    } else {
        pfd.revents
    }
}

/// Read packets until one that is not a TEP arrives (TEPs are returned in
/// `teps`); blocking reads with the given deadline via poll.
pub fn read_data(f: &fs::File, teps: &mut Vec<Vec<u8>>) -> Vec<u8> {
    read_data_or(f, teps, String::new)
}

/// [`read_data`], adding `context()` to the failure message.
pub fn read_data_or(
    f: &fs::File,
    teps: &mut Vec<Vec<u8>>,
    context: impl Fn() -> String,
) -> Vec<u8> {
    let end = Instant::now() + DEADLINE;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no data packet before the deadline; TEPs seen: {teps:02x?}\n{}",
            context()
        );
        if poll_fd(f, libc::POLLIN, left.as_millis() as i32) & libc::POLLIN == 0 {
            continue;
        }
        let p = read_packet(f, 256).expect("read packet");
        if p.first() == Some(&0xc4) {
            teps.push(p);
        } else {
            return p;
        }
    }
}

/// Read the next packet, waiting up to the deadline.
pub fn next_packet(f: &fs::File) -> Vec<u8> {
    let ready = poll_fd(f, libc::POLLIN, DEADLINE.as_millis() as i32);
    assert!(ready & libc::POLLIN != 0, "no packet before the deadline");
    read_packet(f, 256).expect("read packet")
}

/// Whether process `pid` has blocked in a FUSE request (wchan).
pub fn blocked_in_fuse(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/wchan"))
        .map(|w| w.contains("request_wait_answer") || w.contains("fuse"))
        .unwrap_or(false)
}

/// Resident memory of process `pid`, in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

fn proc_status_kib(pid: u32, key: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Open descriptors of process `pid`.
pub fn fd_count(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Cut the link at tile `i`'s `dir` and restore it, waiting for the
/// Disconnect and the Connect on `events`, an open `tile/<dir>/events`
/// of tile `i` that nothing else reads.
pub fn flap(g: &Grid, i: usize, dir: Dir, events: &fs::File) {
    g.sim().cut(g.ids[i], dir);
    assert_eq!(
        next_packet(events),
        [0xc4, 0x02],
        "Disconnect\n{}",
        g.dump()
    );
    g.sim().restore(g.ids[i], dir);
    assert_eq!(next_packet(events), [0xc4, 0x01], "Connect\n{}", g.dump());
}
