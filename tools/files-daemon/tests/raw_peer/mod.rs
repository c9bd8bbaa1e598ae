//! What the bad-input and disk tests share: a real 1x2 grid (`tile-sim
//! run`, one real `itcd` per tile on a real FUSE mount), real `itc-files`
//! daemons on its tiles, and a [`RawPeer`]: the test itself speaking
//! service 8 from tile r0c1 through its `tile/WT/svc/08` file, so it can
//! send r0c0's daemon whatever a broken or hostile neighbour would.
//!
//! Guards stop the daemons and the grid (by pid), also when a test fails,
//! and check that nothing stays mounted. Conditions are awaited with a
//! deadline; nothing sleeps for a fixed time.

#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use itc_files::wire::{emit_packet, parse_packet, Announce, Have, Message, Object, CHUNK_LEN};
use itc_files::{Manifest, Name, RecordId, SecretKey, ShortId};
use itc_proto::Dir;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use test_support::{unmount_all_under, wait_for, workspace_bins};

/// How long any condition may take; generous, as tests share the CPU.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The binaries the tests run: tile-sim, itcd, itc, itc-files.
pub struct Bins {
    pub tile_sim: PathBuf,
    pub itcd: PathBuf,
    pub itc: PathBuf,
    pub files: PathBuf,
}

pub fn bins() -> Bins {
    let files = PathBuf::from(env!("CARGO_BIN_EXE_itc-files"));
    let dir = files.parent().expect("a directory").to_path_buf();
    let b = workspace_bins(
        &dir,
        &[("tile-sim", "tile-sim"), ("itcio", "itcd"), ("itc", "itc")],
    );
    Bins {
        tile_sim: b[0].clone(),
        itcd: b[1].clone(),
        itc: b[2].clone(),
        files,
    }
}

/// A fresh directory for one test, removed on drop unless the test failed.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "itc-files-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the test directory");
        Scratch(dir)
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() && unmount_all_under(&self.0).is_empty() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// Sends SIGTERM to `child` and waits for it until the deadline, then
/// kills it; returns its exit code if it stopped by itself.
fn terminate(child: &mut Child) -> Option<i32> {
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// A running `tile-sim run --rows 1 --cols 2`: r0c0 has r0c1 at ET.
pub struct Grid {
    pub dir: PathBuf,
    child: Child,
}

impl Grid {
    pub fn start(bins: &Bins, dir: &Path) -> Grid {
        let log = File::create(dir.join("tile-sim.log")).expect("log file");
        let child = Command::new(&bins.tile_sim)
            .args(["run", "--rows", "1", "--cols", "2", "--hello", "100"])
            .arg("--dir")
            .arg(dir.join("grid"))
            .arg("--itcd")
            .arg(&bins.itcd)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start tile-sim");
        let grid = Grid {
            dir: dir.to_owned(),
            child,
        };
        assert!(
            wait_for(DEADLINE, || grid.present("r0c0", Dir::ET)
                && grid.present("r0c1", Dir::WT)),
            "the tiles never saw each other; tile-sim log:\n{}",
            fs::read_to_string(dir.join("tile-sim.log")).unwrap_or_default()
        );
        grid
    }

    pub fn mount(&self, tile: &str) -> PathBuf {
        self.dir.join("grid").join(tile)
    }

    fn present(&self, tile: &str, dir: Dir) -> bool {
        fs::read_to_string(self.mount(tile).join(format!("tile/{dir}/status")))
            .is_ok_and(|s| s.lines().any(|l| l == "peer: present"))
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        let code = terminate(&mut self.child);
        let left = unmount_all_under(&self.dir);
        if !std::thread::panicking() {
            assert_eq!(code, Some(0), "tile-sim exits 0 on SIGTERM");
            assert!(left.is_empty(), "left mounted: {left:?}");
        }
    }
}

/// Where one daemon keeps its things, and how to reach it with `itc`.
#[derive(Clone)]
pub struct Site {
    pub itc: PathBuf,
    pub store: PathBuf,
    pub keys: PathBuf,
    pub hooks: PathBuf,
    pub log: PathBuf,
}

impl Site {
    /// A site under `dir`, trusting `trusted`.
    pub fn new(bins: &Bins, dir: &Path, trusted: &SecretKey) -> Site {
        let s = Site {
            itc: bins.itc.clone(),
            store: dir.join("store"),
            keys: dir.join("keys"),
            hooks: dir.join("hooks"),
            log: dir.join("itc-files.log"),
        };
        fs::create_dir_all(&s.keys).unwrap();
        fs::create_dir_all(&s.hooks).unwrap();
        trusted
            .public()
            .write(&s.keys.join("publisher.pub"))
            .unwrap();
        s
    }

    /// `itc files --store STORE ARGS`.
    pub fn files(&self, args: &[&str]) -> Output {
        Command::new(&self.itc)
            .arg("files")
            .arg("--store")
            .arg(&self.store)
            .args(args)
            .env_remove("ITC_STORE")
            .stdin(Stdio::null())
            .output()
            .expect("run itc")
    }

    /// `itc files status --json`, parsed.
    pub fn json(&self) -> serde_json::Value {
        let out = self.files(&["status", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        serde_json::from_slice(&out.stdout).expect("status --json is JSON")
    }

    /// `itc files status`, as text.
    pub fn text(&self) -> String {
        let out = self.files(&["status"]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    /// A bad-input counter by reason.
    pub fn bad(&self, reason: &str) -> u64 {
        self.json()["bad_input"][reason]
            .as_u64()
            .unwrap_or_else(|| panic!("no bad_input.{reason} in the status"))
    }

    /// One of the daemon's counters.
    pub fn counter(&self, name: &str) -> u64 {
        self.json()["counters"][name]
            .as_u64()
            .unwrap_or_else(|| panic!("no counters.{name} in the status"))
    }

    /// One of the service library's counters.
    pub fn service(&self, name: &str) -> u64 {
        self.json()["service"][name]
            .as_u64()
            .unwrap_or_else(|| panic!("no service.{name} in the status"))
    }

    /// Signs and publishes `bytes` as `name` version `version` with `key`
    /// (a key file pair written next to the store).
    pub fn publish(&self, name: &str, bytes: &[u8], key: &SecretKey, version: u64) {
        let dir = self.store.parent().expect("a parent").join("publish");
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join(name);
        fs::write(&file, bytes).unwrap();
        let key_file = dir.join("publisher.key");
        if !key_file.exists() {
            key.write_pair(&key_file).unwrap();
        }
        let version = version.to_string();
        let out = self.files(&[
            "publish",
            file.to_str().unwrap(),
            "--key",
            key_file.to_str().unwrap(),
            "--version",
            &version,
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }

    /// The names in `live/`.
    pub fn live_names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.store.join("live"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A running `itc-files` on one tile; stopped with SIGTERM on drop.
pub struct Daemon {
    child: Child,
}

impl Daemon {
    /// Starts `itc-files` for `site` on the tree at `mount`, and waits
    /// until it serves its control socket with the tree online and a
    /// neighbour present.
    pub fn start(bins: &Bins, site: &Site, mount: &Path) -> Daemon {
        let log = File::create(&site.log).unwrap();
        let child = Command::new(&bins.files)
            .arg("--mount")
            .arg(mount)
            .arg("--store")
            .arg(&site.store)
            .arg("--keys")
            .arg(&site.keys)
            .arg("--hooks")
            .arg(&site.hooks)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start itc-files");
        let d = Daemon { child };
        let up = || {
            let out = site.files(&["status", "--json"]);
            out.status.success()
                && serde_json::from_slice::<serde_json::Value>(&out.stdout).is_ok_and(|j| {
                    j["online"] == true && j["neighbours"].as_array().is_some_and(|n| !n.is_empty())
                })
        };
        assert!(
            wait_for(DEADLINE, up),
            "itc-files never came online: {}",
            site.log_text()
        );
        d
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its resident set size, from `/proc/PID/status`, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let s = fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let code = terminate(&mut self.child);
        if !std::thread::panicking() {
            assert_eq!(code, Some(0), "itc-files exits 0 on SIGTERM");
        }
    }
}

/// The test speaking service 8 as tile r0c1, through its
/// `tile/WT/svc/08` file (non-blocking; waits use poll with deadlines).
/// It serves the objects it was given to the REQUESTs it reads.
pub struct RawPeer {
    file: File,
    /// (short id, object, piece) -> bytes served for it.
    objects: Vec<((ShortId, Object, u32), Vec<u8>)>,
    /// Messages sent.
    pub sent: u64,
    /// REQUESTs answered, by chunk.
    pub chunks_served: u64,
    /// Send every answer twice.
    pub repeat: bool,
    /// Chunks, by object and offset, to send damaged the next time only.
    damage_once: Vec<((ShortId, Object, u32), usize)>,
}

impl RawPeer {
    pub fn open(grid: &Grid) -> RawPeer {
        let path = grid.mount("r0c1").join("tile/WT/svc/08");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(&path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        RawPeer {
            file,
            objects: Vec::new(),
            sent: 0,
            chunks_served: 0,
            repeat: false,
            damage_once: Vec::new(),
        }
    }

    /// Sends one packet's message bytes (after the two header bytes),
    /// waiting while the link's queue is full.
    pub fn send_raw(&mut self, payload: &[u8]) {
        let mut packet = vec![0x80 | Dir::WT.dir8(), itc_proto::SVC_FILE_UPDATE];
        packet.extend_from_slice(payload);
        let end = Instant::now() + DEADLINE;
        loop {
            match self.file.write(&packet) {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < end => {
                    // Keep reading meanwhile, so answers do not pile up.
                    self.serve_ready();
                    let fd = self.file.as_fd();
                    let mut fds = [PollFd::new(fd, PollFlags::POLLOUT | PollFlags::POLLIN)];
                    let _ = poll(&mut fds, PollTimeout::from(100u16));
                }
                Err(e) => panic!("write to tile/WT/svc/08: {e}"),
            }
        }
        self.sent += 1;
    }

    /// Sends one message.
    pub fn send(&mut self, msg: &Message<'_>) {
        let mut buf = [0u8; 257];
        let n = emit_packet(msg, Dir::WT, &mut buf).expect("a valid message");
        self.send_raw(&buf[2..n]);
    }

    /// Serves `bytes` as the object at (`id`, `object`, `piece`).
    pub fn offer(&mut self, id: ShortId, object: Object, piece: u32, bytes: Vec<u8>) {
        self.objects.retain(|(k, _)| *k != (id, object, piece));
        self.objects.push(((id, object, piece), bytes));
    }

    /// Offers `manifest`'s bytes as they are and announces it as having
    /// every piece.
    pub fn announce_manifest(&mut self, name: &str, version: u64, bytes: Vec<u8>) {
        let id = RecordId::of(&bytes);
        let len = bytes.len() as u32;
        self.offer(id.short(), Object::Manifest, 0, bytes);
        self.send(&Message::Announce(Announce {
            name: Name::from_bytes(name.as_bytes()).unwrap(),
            version,
            manifest_id: id,
            manifest_len: len,
            have: Have::Complete,
        }));
    }

    /// Damages the chunk of piece `piece` of `m` that holds its last byte,
    /// the next time it is sent only.
    pub fn damage_once(&mut self, m: &Manifest, piece: u32) {
        let last = m.piece_len(piece) as usize - 1;
        let offset = last - last % CHUNK_LEN;
        self.damage_once
            .push(((m.id().short(), Object::Piece, piece), offset));
    }

    /// Offers every piece of `content` under `m`.
    pub fn offer_pieces(&mut self, m: &Manifest, content: &[u8]) {
        for i in 0..m.piece_count() {
            let at = m.piece_offset(i) as usize;
            let piece = content[at..at + m.piece_len(i) as usize].to_vec();
            self.offer(m.id().short(), Object::Piece, i, piece);
        }
    }

    /// Answers the REQUESTs already queued; returns how many packets it read.
    pub fn serve_ready(&mut self) -> usize {
        let mut buf = [0u8; 512];
        let mut read = 0;
        loop {
            let n = match self.file.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return read,
                Err(e) => panic!("read tile/WT/svc/08: {e}"),
            };
            read += 1;
            let Ok((_, Message::Request { at, count })) = parse_packet(&buf[..n]) else {
                continue;
            };
            let Some(bytes) = self
                .objects
                .iter()
                .find(|(k, _)| *k == (at.id, at.object, at.piece))
                .map(|(_, b)| b.clone())
            else {
                continue;
            };
            for k in 0..u32::from(count) {
                let offset = at.offset as usize + k as usize * CHUNK_LEN;
                if offset >= bytes.len() {
                    break;
                }
                let end = (offset + CHUNK_LEN).min(bytes.len());
                let chunk_at = itc_files::wire::Locator {
                    offset: offset as u32,
                    ..at
                };
                let mut data = bytes[offset..end].to_vec();
                let key = (at.id, at.object, at.piece);
                if let Some(i) = self.damage_once.iter().position(|d| *d == (key, offset)) {
                    self.damage_once.remove(i);
                    data[0] ^= 0xff;
                }
                let answer = Message::Data {
                    at: chunk_at,
                    data: &data,
                };
                self.send(&answer);
                if self.repeat {
                    self.send(&answer);
                }
                self.chunks_served += 1;
            }
        }
    }

    /// Serves requests until `done` holds or the deadline passes; returns
    /// whether `done` held.
    pub fn serve_until(&mut self, mut done: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + DEADLINE;
        let mut last_check = Instant::now() - Duration::from_secs(1);
        while Instant::now() < end {
            self.serve_ready();
            // The condition runs `itc`; ask it a few times a second.
            if last_check.elapsed() >= Duration::from_millis(100) {
                if done() {
                    return true;
                }
                last_check = Instant::now();
            }
            let fd = self.file.as_fd();
            let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(50u16));
        }
        done()
    }
}

/// Content of `len` bytes that differs from position to position.
pub fn content(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ salt)
        .collect()
}

/// The key every site trusts, and one no site trusts.
pub fn trusted_key() -> SecretKey {
    SecretKey::from_seed(&[0x11; 32])
}

pub fn untrusted_key() -> SecretKey {
    SecretKey::from_seed(&[0x22; 32])
}
