//! `itc capture` end to end: the real `tile-sim` runs a 1x2 grid of real
//! `itcd` processes on real FUSE mounts, real `itc` commands send
//! packets, and `itc capture` on r0c0 shows them as lines, or writes
//! pcapng that `pcap-file` reads back and that `tshark`, with the
//! project's Lua dissector, decodes.
//!
//! Every grid is stopped with SIGTERM by a guard, also when a test fails,
//! and the guard checks that nothing is left mounted. Tests wait on
//! conditions with deadlines, never for a fixed time.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use itc_proto::capture::{CaptureRecord, Way};
use itc_proto::Dir;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;
use test_support::{unmount_all_under, wait_for, workspace_bins};

/// How long any condition or command may take.
const DEADLINE: Duration = Duration::from_secs(20);

struct Bins {
    itc: PathBuf,
    tile_sim: PathBuf,
    itcd: PathBuf,
}

fn bins() -> Bins {
    let itc = PathBuf::from(env!("CARGO_BIN_EXE_itc"));
    let dir = itc.parent().expect("itc has a directory").to_path_buf();
    let built = workspace_bins(&dir, &[("tile-sim", "tile-sim"), ("itcio", "itcd")]);
    Bins {
        itc,
        tile_sim: built[0].clone(),
        itcd: built[1].clone(),
    }
}

fn unique_dir(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "itc-capture-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ))
}

fn signal(pid: u32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), sig);
}

/// Waits for `child` until the deadline; kills it if it is still running.
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

/// A running `tile-sim run --rows 1 --cols 2`; stopped and checked on drop.
struct Grid {
    bins: Bins,
    dir: PathBuf,
    child: Option<Child>,
}

impl Grid {
    /// Starts the grid and waits until both tiles see each other.
    fn start(tag: &str) -> Grid {
        let bins = bins();
        let dir = unique_dir(tag);
        fs::create_dir_all(&dir).expect("create test directory");
        let log = fs::File::create(dir.join("tile-sim.log")).expect("log file");
        let child = Command::new(&bins.tile_sim)
            .args(["run", "--rows", "1", "--cols", "2", "--rate", "0"])
            .args(["--hello", "100", "--dir"])
            .arg(dir.join("grid"))
            .arg("--itcd")
            .arg(&bins.itcd)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start tile-sim");
        let grid = Grid {
            bins,
            dir,
            child: Some(child),
        };
        let present = |tile: &str, d: &str| {
            fs::read_to_string(grid.mount(tile).join(format!("tile/{d}/status")))
                .is_ok_and(|s| s.lines().any(|l| l == "peer: present"))
        };
        assert!(
            wait_for(DEADLINE, || present("r0c0", "ET") && present("r0c1", "WT")),
            "the tiles never saw each other; tile-sim log:\n{}",
            grid.log()
        );
        grid
    }

    fn mount(&self, tile: &str) -> PathBuf {
        self.dir.join("grid").join(tile)
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("tile-sim.log")).unwrap_or_default()
    }

    fn itc(&self, tile: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bins.itc);
        cmd.arg("--mount").arg(self.mount(tile)).args(args);
        cmd.env_remove("ITC_MOUNT").stdin(Stdio::null());
        cmd
    }

    /// Runs `itc` on `tile` to completion and checks it succeeded.
    fn run_ok(&self, tile: &str, args: &[&str]) {
        let out = run(self.itc(tile, args));
        assert_eq!(
            out.status.code(),
            Some(0),
            "itc {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), Signal::SIGTERM);
            if wait_child(&mut child, DEADLINE).is_none() {
                unmount_all_under(&self.dir);
                if !std::thread::panicking() {
                    panic!("tile-sim did not stop on SIGTERM; log:\n{}", self.log());
                }
            }
        }
        let left = unmount_all_under(&self.dir);
        if left.is_empty() {
            let _ = fs::remove_dir_all(&self.dir);
        } else if !std::thread::panicking() {
            panic!("still mounted after tile-sim stopped: {left:?}");
        }
    }
}

/// Runs a command to completion, killing it and failing at the deadline.
fn run(mut cmd: Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start command");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(out) => out.expect("wait for command"),
        Err(_) => {
            signal(pid, Signal::SIGKILL);
            panic!("{cmd:?} did not finish in {DEADLINE:?}");
        }
    }
}

/// A long-running command; its stdout read line by line, or kept whole.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start itc");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines }
    }

    /// Reads lines until one satisfies `want`; returns it.
    fn line_where(&self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if want(&line) => return line,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no line with {what}; saw:\n{}", seen.join("\n"));
    }

    /// Waits until the process has `path` open.
    fn wait_open(&self, path: &Path) {
        let fds = PathBuf::from(format!("/proc/{}/fd", self.child.id()));
        let has_open = || {
            fs::read_dir(&fds).is_ok_and(|entries| {
                entries
                    .filter_map(Result::ok)
                    .any(|e| fs::read_link(e.path()).is_ok_and(|l| l == path))
            })
        };
        assert!(wait_for(DEADLINE, has_open), "never opened {path:?}");
    }

    /// Waits for the exit; returns the status code, the rest of stdout
    /// and stderr.
    fn finish(mut self) -> (Option<i32>, Vec<String>, String) {
        let status = wait_child(&mut self.child, DEADLINE).expect("exits before the deadline");
        let rest = self.lines.iter().collect();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status.code(), rest, err)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The words of a capture line after its time.
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().skip(1).collect()
}

#[test]
fn capture_lines_show_mfm_both_ways_and_a_drop_with_its_reason() {
    let grid = Grid::start("lines");
    let capture = Running::spawn(grid.itc("r0c0", &["capture"]));
    capture.wait_open(&grid.mount("r0c0").join("itc/capture"));
    // A reader for MFM on r0c0, so that what r0c1 sends is delivered.
    let recv = Running::spawn(grid.itc("r0c0", &["recv", "--mfm", "--count", "1"]));
    recv.wait_open(&grid.mount("r0c0").join("itc/mfm"));

    grid.run_ok("r0c0", &["send", "--dir", "ET", "--mfm", "--hex", "de ad"]);
    let out = capture.line_where("MFM out", |l| words(l) == ["ET", "out", "mfm", "len", "3"]);
    let time = out.split_whitespace().next().unwrap();
    assert!(humantime::parse_rfc3339(time).is_ok(), "{out}");

    grid.run_ok(
        "r0c1",
        &["send", "--dir", "WT", "--mfm", "--hex", "01 02 03"],
    );
    capture.line_where("MFM in", |l| words(l) == ["ET", "in", "mfm", "len", "4"]);

    // Nobody reads service 20 on r0c0: dropped, and the reason says so.
    grid.run_ok("r0c1", &["send", "--dir", "WT", "--svc", "20", "hi"]);
    capture.line_where("the drop", |l| {
        words(l) == ["ET", "in", "DROP", "no_reader", "svc20", "len", "4"]
    });
    let status = fs::read_to_string(grid.mount("r0c0").join("tile/ET/status")).unwrap();
    assert!(status.lines().any(|l| l == "drop_no_reader: 1"), "{status}");
    // Hellos both ways, decoded.
    capture.line_where("a hello from r0c1", |l| {
        let w = words(l);
        w[..4] == ["ET", "in", "hello", "\"r0c1\""]
    });
    capture.line_where("a hello to r0c1", |l| {
        let w = words(l);
        w[..4] == ["ET", "out", "hello", "\"r0c0\""]
    });

    signal(capture.child.id(), Signal::SIGINT);
    let (code, _, err) = capture.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
    let (code, _, err) = recv.finish();
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn capture_count_stops_after_n_packets_of_the_kind_asked() {
    let grid = Grid::start("count");
    let capture = Running::spawn(grid.itc(
        "r0c0",
        &["capture", "--dir", "ET", "--svc", "20", "-c", "2"],
    ));
    capture.wait_open(&grid.mount("r0c0").join("itc/capture"));
    for payload in ["one", "two", "three"] {
        grid.run_ok("r0c0", &["send", "--dir", "ET", "--svc", "20", payload]);
    }
    let (code, lines, err) = capture.finish();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(words(&lines[0]), ["ET", "out", "svc20", "len", "5"]);
    assert_eq!(words(&lines[1]), ["ET", "out", "svc20", "len", "5"]);
}

/// The records of a pcapng file, each with its interface's name and link
/// type and the EPB flags; checks the file is whole.
fn read_pcapng(bytes: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
    let mut reader = PcapNgReader::new(bytes).expect("a pcapng section header");
    let mut out = Vec::new();
    while let Some(block) = reader.next_block() {
        let block = block.expect("a whole block").into_owned();
        match block {
            Block::EnhancedPacket(epb) => {
                let idb = &reader.interfaces()[epb.interface_id as usize];
                assert_eq!(idb.linktype, DataLink::USER0);
                let name = idb
                    .options
                    .iter()
                    .find_map(|o| match o {
                        pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption::IfName(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .expect("a named interface");
                let flags = epb
                    .options
                    .iter()
                    .find_map(|o| match o {
                        pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption::Flags(
                            f,
                        ) => Some(*f),
                        _ => None,
                    })
                    .unwrap_or(0);
                let (rec, len) = CaptureRecord::parse(&epb.data).expect("a capture record");
                assert_eq!(len, epb.data.len());
                assert_eq!(
                    epb.timestamp,
                    Duration::from_nanos(rec.time_ns()),
                    "the block's time is the record's"
                );
                out.push((name, flags, epb.data.to_vec()));
            }
            Block::InterfaceDescription(_) | Block::SectionHeader(_) => {}
            other => panic!("unexpected block {other:?}"),
        }
    }
    out
}

#[test]
fn capture_writes_pcapng_that_reads_back_and_ends_whole_on_sigterm() {
    let grid = Grid::start("pcapng");
    let file = grid.dir.join("t2.pcapng");
    let capture = Running::spawn(grid.itc("r0c0", &["capture", "-w", file.to_str().unwrap()]));
    capture.wait_open(&grid.mount("r0c0").join("itc/capture"));
    grid.run_ok("r0c0", &["send", "--dir", "ET", "--mfm", "--hex", "aa bb"]);
    grid.run_ok("r0c1", &["send", "--dir", "WT", "--svc", "20", "hi"]);
    let has = |bytes: &[u8], want: &[u8]| bytes.windows(want.len()).any(|w| w == want);
    let mfm_out = [0xa0 | Dir::ET.dir8(), 0xaa, 0xbb];
    assert!(
        wait_for(DEADLINE, || fs::read(&file).is_ok_and(|b| has(
            &b, &mfm_out
        ) && has(
            &b, b"hi"
        ))),
        "the packets never reached the file"
    );
    signal(capture.child.id(), Signal::SIGTERM);
    let (code, _, err) = capture.finish();
    assert_eq!(code, Some(0), "{err}");

    let records = read_pcapng(&fs::read(&file).unwrap());
    let find = |want: &dyn Fn(&CaptureRecord<'_>) -> bool| {
        records
            .iter()
            .find(|(_, _, raw)| want(&CaptureRecord::parse(raw).unwrap().0))
            .unwrap_or_else(|| panic!("not in the file: {} records", records.len()))
    };
    let (name, flags, _) = find(
        &|r| matches!(r, CaptureRecord::Packet { way: Way::Out, packet, .. } if *packet == &mfm_out[..]),
    );
    assert_eq!((name.as_str(), *flags), ("ET", 2), "outbound, on ET");
    let (name, flags, raw) =
        find(&|r| matches!(r, CaptureRecord::Packet { packet, .. } if packet.ends_with(b"hi")));
    assert_eq!((name.as_str(), *flags), ("ET", 1), "inbound, on ET");
    assert_eq!(raw[5], 1, "dropped: no reader (code 1)");

    // `-w -` streams the same format to standard output.
    let out = run(grid.itc("r0c0", &["capture", "-w", "-", "-c", "2", "--dir", "ET"]));
    assert_eq!(out.status.code(), Some(0));
    let streamed = read_pcapng(&out.stdout);
    assert_eq!(streamed.len(), 2, "two hellos");
}

/// Where the dissector is in the source tree.
fn dissector() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../wireshark/t2-itc.lua")
}

#[test]
fn tshark_decodes_a_live_capture_with_the_dissector() {
    assert!(
        Command::new("tshark").arg("--version").output().is_ok(),
        "this test needs tshark (Debian package tshark)"
    );
    let grid = Grid::start("tshark");
    let file = grid.dir.join("t2.pcapng");
    let capture = Running::spawn(grid.itc("r0c0", &["capture", "-w", file.to_str().unwrap()]));
    capture.wait_open(&grid.mount("r0c0").join("itc/capture"));
    grid.run_ok("r0c0", &["send", "--dir", "ET", "--mfm", "--hex", "aa bb"]);
    grid.run_ok("r0c0", &["ping", "ET", "-c", "1"]);
    grid.run_ok("r0c1", &["send", "--dir", "WT", "--svc", "20", "hi"]);
    // Every message of the file service (version 1), the REQUEST last.
    let id = "0102030405060708";
    let manifest_id = "aa".repeat(32);
    let file_messages = [
        "01 07".to_string(),
        format!("01 01 01 03 616263 0000000000000005 {manifest_id} 00000100"),
        format!("01 01 00 03 616263 0000000000000006 {manifest_id} 00000100 00000000 02 ff01"),
        format!(
            "01 02 49544354 01 03 616263 0000000000000007 {id} {}",
            "55".repeat(64)
        ),
        format!("01 04 {id} 02 00000003 000000ea 68656c6c6f"),
        format!("01 05 {id} 02 00000003 00000000 0064"),
        format!("01 06 {id} 02"),
        format!("01 03 {id} 02 00000003 000000ea 04"),
    ];
    for hex in &file_messages {
        grid.run_ok("r0c0", &["send", "--dir", "ET", "--svc", "8", "--hex", hex]);
    }
    // The file service REQUEST, and hellos both ways (periodic).
    let has = |bytes: &[u8], want: &[u8]| bytes.windows(want.len()).any(|w| w == want);
    assert!(
        wait_for(DEADLINE, || fs::read(&file).is_ok_and(|b| has(
            &b,
            &[0x01, 0x03, 0x01]
        ) && has(
            &b, b"r0c0"
        ) && has(
            &b, b"r0c1"
        ))),
        "the packets never reached the file"
    );
    signal(capture.child.id(), Signal::SIGINT);
    let (code, _, err) = capture.finish();
    assert_eq!(code, Some(0), "{err}");

    let lua = format!("lua_script:{}", dissector().display());
    let fields = run({
        let mut c = Command::new("tshark");
        c.args(["-n", "-X", &lua, "-r"]).arg(&file).args([
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "t2itc.way",
            "-e",
            "t2itc.fate",
            "-e",
            "t2itc.dir",
            "-e",
            "t2itc.kind",
            "-e",
            "t2itc.svc",
            "-e",
            "t2itc.hello.name",
            "-e",
            "t2itc.echo.op",
            "-e",
            "t2itc.files.type",
            "-e",
            "t2itc.files.object",
            "-e",
            "t2itc.files.name",
            "-e",
            "t2itc.files.reason",
        ]);
        c
    });
    let text = String::from_utf8_lossy(&fields.stdout).into_owned();
    assert!(
        fields.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&fields.stderr)
    );
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('|').collect()).collect();
    let any = |want: &[&str]| {
        rows.iter().any(|r| {
            want.iter()
                .zip(r.iter())
                .all(|(w, got)| w.is_empty() || w == got)
        })
    };
    for want in [
        &["out", "passed", "ET", "mfm"][..],
        &["in", "passed", "ET", "service", "1", "r0c1"],
        &["out", "passed", "ET", "service", "2", "", "request"],
        &["in", "passed", "ET", "service", "2", "", "reply"],
        &["in", "dropped: no_reader", "ET", "service", "20"],
        &["out", "passed", "ET", "service", "8", "", "", "SOLICIT"],
        &[
            "out", "passed", "ET", "service", "8", "", "", "REQUEST", "piece",
        ],
        &[
            "out", "passed", "ET", "service", "8", "", "", "ANNOUNCE", "", "abc",
        ],
        &[
            "out",
            "passed",
            "ET",
            "service",
            "8",
            "",
            "",
            "TOMBSTONE",
            "",
            "abc",
        ],
        &[
            "out", "passed", "ET", "service", "8", "", "", "DATA", "piece",
        ],
        &[
            "out", "passed", "ET", "service", "8", "", "", "RETRY", "piece",
        ],
        &[
            "out",
            "passed",
            "ET",
            "service",
            "8",
            "",
            "",
            "ABORT",
            "",
            "",
            "superseded",
        ],
    ] {
        assert!(any(want), "no row like {want:?} in:\n{text}");
    }
    let verbose = run({
        let mut c = Command::new("tshark");
        c.args(["-n", "-X", &lua, "-r"]).arg(&file).arg("-V");
        c
    });
    let text = String::from_utf8_lossy(&verbose.stdout).into_owned();
    assert!(verbose.status.success());
    assert!(text.contains("T2 intertile"), "{text}");
    assert!(!text.contains("Malformed"), "{text}");
    assert!(!text.contains("Shorter than its format"), "{text}");
    assert!(!text.contains("Bytes after the last field"), "{text}");
    for want in [
        "File version: 6",
        "Pieces bitmap: ff01",
        "Delay (ms): 100",
        "Tile name: r0c1",
        "OVRN (packets lost before this one): False",
    ] {
        assert!(text.contains(want), "no {want:?} in:\n{text}");
    }
    assert!(!text.to_lowercase().contains("lua error"), "{text}");
}
