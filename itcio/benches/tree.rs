//! Benchmarks: figures, never pass/fail.
//!
//! 1. In-process parse + route: PRU messages through the tile core to a
//!    reader's queue and out through the backend's read, packets per second,
//!    without and with a capture reader open (`itc/capture`).
//! 2. Capture through the tree between two real `itcd`: CPU per packet
//!    without a capture reader, with one on each tile, and without again.
//! 3. Packet channels between two real `itcd` processes (unlimited link
//!    rate), beside a raw UNIX seqpacket socket pair measured in the same
//!    run with the same CPU placement: packets per second and one-way
//!    latency percentiles, reported as ratios. Run twice: every thread and
//!    process pinned to CPU 0 (the board has one core), then unpinned.
//! 3. In the same runs, a stream through the batched files
//!    (`tile/<D>/batch/mfm`), and the CPU time per packet of everything on
//!    the path (both `itcd`, the emulated PRUs and wires, the writer and
//!    the reader) for the raw pair, the plain files and the batched ones.
//!
//! `cargo bench -p itcio --bench tree` (as root: it mounts FUSE trees).

use std::fs;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fuse_fs::{Backend, FileKind, Scope};
use itc_emu::{LinkParams, PacketModel, Wires};
use itc_proto::{Dir, Pru};
use itcio::tile::{Config, Tile};
use nix::sched::{sched_setaffinity, CpuSet};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::unistd::Pid;

mod stream;

use stream::{context_switches, Cpu, PerPacket};

const PAYLOAD: usize = 64;

#[path = "tree/capture.rs"]
mod capture;
use capture::capture_figures;

/// Nanoseconds per packet through the tile core: parse, route, read; with
/// `capture`, a capture file is open too and read as it fills.
fn core_route(capture: bool, n: u64) -> f64 {
    let mut tile = Tile::new(Config {
        name: "bench".into(),
        ..Config::default()
    });
    let now = Instant::now();
    tile.set_pru_up(Pru::Pru0, true);
    tile.on_pru_message(Pru::Pru0, &[0xc3, b'P', Dir::ET.dir8()], now);
    tile.on_pru_message(Pru::Pru0, &[0x80 | Dir::ET.dir8(), 1, 1, 1, b'N', 0], now);
    let fh = tile
        .open(FileKind::Mfm(Scope::All), libc::O_RDWR)
        .expect("open itc/mfm");
    let cap = capture.then(|| {
        tile.open(FileKind::Capture, libc::O_RDONLY)
            .expect("open itc/capture")
    });
    let mut out = Vec::with_capacity(256);
    let mut records = Vec::with_capacity(64 * 1024);
    let _ = tile.read(fh, 0, 256, &mut out); // the Connect TEP
    let mut pkt = vec![0u8; PAYLOAD];
    pkt[0] = 0xa0 | Dir::ET.dir8();
    let t = Instant::now();
    for i in 0..n {
        pkt[1] = i as u8;
        tile.on_pru_message(Pru::Pru0, &pkt, now);
        out.clear();
        tile.read(fh, 0, 256, &mut out).expect("routed packet");
        if let Some(cap) = cap {
            // Read as a capture reader does: many records per read.
            if i % 64 == 63 {
                records.clear();
                tile.read(cap, 0, 64 * 1024, &mut records)
                    .expect("capture records");
            }
        }
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// The core with and without a capture reader, alternated so that both
/// see the same machine; the best of three each.
fn core_figures() {
    let n = 2_000_000u64;
    let (mut plain, mut captured) = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        plain = plain.min(core_route(false, n));
        captured = captured.min(core_route(true, n));
    }
    println!(
        "core parse+route+read: {:.2} M packets/s ({plain:.0} ns/packet, {PAYLOAD}-byte packets)",
        1e3 / plain
    );
    println!(
        "  with a capture reader open (records read 64 at a time): {captured:.0} ns/packet, \
         {:.2}x the cost without one",
        captured / plain
    );
}

struct Pair {
    children: Vec<Child>,
    mounts: Vec<PathBuf>,
    _sim: PacketModel,
    base: PathBuf,
}

impl Drop for Pair {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = nix::sys::signal::kill(
                Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        for c in &mut self.children {
            let _ = c.wait();
        }
        for m in &self.mounts {
            let _ = fuse_fs::mount::detach(m);
        }
        let _ = fs::remove_dir_all(&self.base);
    }
}

impl Pair {
    /// The bench process and the itcd processes.
    fn pids(&self) -> Vec<u32> {
        let mut pids = vec![std::process::id()];
        pids.extend(self.children.iter().map(Child::id));
        pids
    }
}

fn status_has(mount: &Path, rel: &str, needle: &str) -> bool {
    fs::read_to_string(mount.join(rel)).is_ok_and(|s| s.contains(needle))
}

fn start_pair(tag: &str) -> Pair {
    let base = std::env::temp_dir().join(format!("itc-bench-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(base.join("s")).expect("bench dir");
    let mut wires = Wires::new(&base.join("s"), LinkParams::default());
    let a = wires.add_tile("A");
    let b = wires.add_tile("B");
    wires.connect(a, Dir::ET, b);
    let socks = [a, b].map(|id| {
        [
            wires.pru_socket(id, Pru::Pru0),
            wires.pru_socket(id, Pru::Pru1),
        ]
    });
    let sim = PacketModel::start(wires).expect("PRU emulation");
    let mut children = Vec::new();
    let mut mounts = Vec::new();
    for (i, name) in ["A", "B"].iter().enumerate() {
        let m = base.join(name);
        fs::create_dir_all(&m).expect("mount dir");
        let child = Command::new(env!("CARGO_BIN_EXE_itcd"))
            .arg("--pru0")
            .arg(&socks[i][0])
            .arg("--pru1")
            .arg(&socks[i][1])
            .arg("--mount")
            .arg(&m)
            .args([
                "--name",
                name,
                "--hello-ms",
                "200",
                "--absent-ms",
                "2000",
                "--log-level",
                "warn",
            ])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn itcd");
        children.push(child);
        mounts.push(m);
    }
    let pair = Pair {
        children,
        mounts,
        _sim: sim,
        base,
    };
    let end = Instant::now() + Duration::from_secs(20);
    while !(status_has(&pair.mounts[0], "tile/ET/status", "peer: present")
        && status_has(&pair.mounts[1], "tile/WT/status", "peer: present"))
    {
        assert!(Instant::now() < end, "the pair never connected");
        std::thread::sleep(Duration::from_millis(20));
    }
    pair
}

fn open_rw(p: &Path) -> fs::File {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(0)
        .open(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Read one data packet, skipping TEPs.
fn read_data(f: &mut fs::File, buf: &mut [u8]) -> usize {
    loop {
        let n = f.read(buf).expect("read packet");
        if buf[0] != 0xc4 {
            return n;
        }
    }
}

struct Figures {
    /// CPU time per packet of the stream, by who spent it.
    cpu: PerPacket,
    /// How the throughput stream lost packets, if it did.
    loss: String,
    /// Context switches per ping-pong round trip, voluntary and preempted,
    /// over every process and thread taking part.
    switches: [f64; 2],
    pps: f64,
    p50: Duration,
    p90: Duration,
    p99: Duration,
}

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    (at(0.5), at(0.9), at(0.99))
}

/// Discard whatever is still queued for `f`.
fn drain(f: &mut fs::File) {
    let fd = f.as_raw_fd();
    let mut buf = [0u8; 256];
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is a valid pollfd for the duration of the call.
        if unsafe { libc::poll(&mut pfd, 1, 50) } <= 0 {
            return;
        }
        let _ = f.read(&mut buf);
    }
}

/// Every drop counter of the pair's link (A's ET, B's WT), as
/// (`DIR drop_REASON`, count).
fn drop_counters(pair: &Pair) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for (m, d) in [(&pair.mounts[0], "ET"), (&pair.mounts[1], "WT")] {
        let st = fs::read_to_string(m.join(format!("tile/{d}/status"))).unwrap_or_default();
        for l in st.lines().filter(|l| l.starts_with("drop_")) {
            if let Some((k, v)) = l.split_once(": ") {
                out.push((format!("{d} {k}"), v.parse().unwrap_or(0)));
            }
        }
    }
    out
}

/// What a stream of packets through the tree cost.
struct Stream {
    /// Packets delivered per second.
    pps: f64,
    /// CPU time per packet written, by who spent it.
    cpu: PerPacket,
    /// Where packets were lost, if any were.
    loss: String,
}

/// Streams `packets` MFM packets from `tx` to `rx` (ET of the first tile
/// to WT of the second), then stops the reader with end markers.
fn stream(pair: &Pair, tx: &mut fs::File, rx: &fs::File, packets: usize) -> Stream {
    let mut pkt = vec![0xa0u8; PAYLOAD];
    // Throughput: a writer thread streams; a reader thread does blocking
    // reads. The link is a datagram link (no end-to-end flow control), so
    // the figure is packets delivered per second of the stream, and any
    // loss is reported beside it.
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let last_rx = std::sync::Arc::new(std::sync::Mutex::new(Instant::now()));
    let reader = {
        let mut rx = rx.try_clone().expect("dup");
        let received = received.clone();
        let last_rx = last_rx.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            loop {
                read_data(&mut rx, &mut buf);
                if buf[1] == 0xff {
                    return;
                }
                received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Ok(mut t) = last_rx.lock() {
                    *t = Instant::now();
                }
            }
        })
    };
    let daemons: Vec<u32> = pair.children.iter().map(Child::id).collect();
    let cpu_before = Cpu::now(&daemons);
    let drops_before = drop_counters(pair);
    let t = Instant::now();
    pkt[1] = 0;
    for _ in 0..packets {
        tx.write_all(&pkt).expect("write packet");
    }
    // Wait until the stream has drained: nothing new for 200 ms.
    let mut seen = 0;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = received.load(std::sync::atomic::Ordering::Relaxed);
        if now == seen {
            break;
        }
        seen = now;
    }
    let end = *last_rx.lock().expect("clock");
    let got = received.load(std::sync::atomic::Ordering::Relaxed);
    let pps = got as f64 / end.duration_since(t).as_secs_f64();
    // CPU time per packet written, by who spent it: what a packet costs
    // whatever the placement.
    let cpu = Cpu::now(&daemons).per_packet(cpu_before, packets);
    // Where the stream lost packets, from the status files: the drops
    // counted during this stream.
    let mut loss = String::new();
    if got < packets {
        loss = format!(
            "delivered {got} of {packets} ({:.1}% dropped:",
            100.0 * (packets - got) as f64 / packets as f64
        );
        for ((what, after), (_, before)) in drop_counters(pair).iter().zip(&drops_before) {
            if after > before {
                loss += &format!(" {what}: {}", after - before);
            }
        }
        loss += ")";
    }
    // Stop the reader with end markers (one may be dropped too).
    pkt[1] = 0xff;
    while !reader.is_finished() {
        tx.write_all(&pkt).expect("end marker");
        std::thread::sleep(Duration::from_millis(5));
    }
    reader.join().expect("reader");
    Stream { pps, cpu, loss }
}

fn tree_figures(pair: &Pair, packets: usize, rounds: usize) -> Figures {
    let mut tx = open_rw(&pair.mounts[0].join("tile/ET/mfm"));
    let mut rx = open_rw(&pair.mounts[1].join("tile/WT/mfm"));
    let Stream { pps, cpu, loss } = stream(pair, &mut tx, &rx, packets);
    drain(&mut rx);

    let (lat, switches) = ping_pong(&pair.pids(), rounds, tx, rx);
    let (p50, p90, p99) = percentiles(lat);
    Figures {
        cpu,
        loss,
        switches,
        pps,
        p50,
        p90,
        p99,
    }
}

/// Ping-pong: `rounds` packets written to `ping`, echoed by a thread from
/// `echo`, each read back from `ping`. Returns the one-way latencies (round
/// trip / 2) and the voluntary and preempted context switches per round
/// trip over every thread of `pids`.
fn ping_pong(
    pids: &[u32],
    rounds: usize,
    mut ping: fs::File,
    mut echo: fs::File,
) -> (Vec<Duration>, [f64; 2]) {
    let before = context_switches(pids);
    // The echo thread lives until its switches are counted.
    let (counted, wait_counted) = std::sync::mpsc::channel::<()>();
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        for _ in 0..rounds {
            let n = read_data(&mut echo, &mut buf);
            echo.write_all(&buf[..n]).expect("echo back");
        }
        let _ = wait_counted.recv();
    });
    let mut pkt = vec![0xa0u8; PAYLOAD];
    let mut buf = [0u8; 256];
    let mut lat = Vec::with_capacity(rounds);
    for i in 0..rounds {
        pkt[1] = i as u8;
        let t = Instant::now();
        ping.write_all(&pkt).expect("ping");
        let n = read_data(&mut ping, &mut buf);
        assert_eq!(n, PAYLOAD, "pong length");
        lat.push(t.elapsed() / 2);
    }
    let after = context_switches(pids);
    drop(counted);
    echo.join().expect("echo thread");
    let per_round = |i: usize| (after[i] - before[i]) as f64 / rounds as f64;
    (lat, [per_round(0), per_round(1)])
}

fn raw_figures(packets: usize, rounds: usize) -> Figures {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .expect("socketpair");
    let a = fs::File::from(a);
    let mut b = fs::File::from(b);
    let pkt = vec![0xa0u8; PAYLOAD];
    let mut buf = [0u8; 256];
    let writer = {
        let mut a = a.try_clone().expect("dup");
        let pkt = pkt.clone();
        std::thread::spawn(move || {
            for _ in 0..packets {
                a.write_all(&pkt).expect("send");
            }
        })
    };
    let before = Cpu::now(&[]);
    let t = Instant::now();
    for _ in 0..packets {
        let n = b.read(&mut buf).expect("recv");
        assert_eq!(n, PAYLOAD);
    }
    let pps = packets as f64 / t.elapsed().as_secs_f64();
    writer.join().expect("writer");
    let cpu = Cpu::now(&[]).per_packet(before, packets);
    let (lat, switches) = ping_pong(&[std::process::id()], rounds, a, b);
    let (p50, p90, p99) = percentiles(lat);
    Figures {
        cpu,
        loss: String::new(),
        switches,
        pps,
        p50,
        p90,
        p99,
    }
}

fn set_cpus(cpus: &[usize]) {
    let mut set = CpuSet::new();
    for c in cpus {
        let _ = set.set(*c);
    }
    if let Err(e) = sched_setaffinity(Pid::from_raw(0), &set) {
        println!("    (cannot set CPU affinity: {e})");
    }
}

fn through_the_tree(label: &str, cpus: &[usize]) {
    // Placement first: the emulation thread and the itcd processes inherit
    // this thread's affinity.
    set_cpus(cpus);
    let packets = 20_000;
    let rounds = 2_000;
    let raw = raw_figures(packets, rounds);
    let pair = start_pair(label);
    let fuse_rtt = fuse_round_trip(&pair, rounds * 5);
    let tree = tree_figures(&pair, packets, rounds);
    let daemons: Vec<u32> = pair.children.iter().map(Child::id).collect();
    let batched = stream::batched(
        &pair.mounts[0].join("tile/ET/batch/mfm"),
        &pair.mounts[1].join("tile/WT/batch/mfm"),
        &daemons,
        packets * 5,
        PAYLOAD,
    );
    drop(pair);
    println!("{label}:");
    println!(
        "  throughput: tree {:.0} packets/s, raw seqpacket {:.0} packets/s, ratio {:.3}x (target >= 0.2x)",
        tree.pps,
        raw.pps,
        tree.pps / raw.pps
    );
    if !tree.loss.is_empty() {
        println!("    the tree {}", tree.loss);
    }
    println!(
        "  batched stream: {:.0} packets/s, ratio {:.3}x raw (target >= 0.5x pinned, aim 1x), \
         {:.2}x the plain files",
        batched.pps,
        batched.pps / raw.pps,
        batched.pps / tree.pps
    );
    println!(
        "    {:.2} context switches per packet ({:.2} preempted), {:.1} packets per read",
        batched.switches[0] + batched.switches[1],
        batched.switches[1],
        batched.items_per_read
    );
    if batched.delivered < packets * 5 {
        println!(
            "    the batched stream delivered {} of {} ({:.1}% dropped)",
            batched.delivered,
            packets * 5,
            100.0 * (packets * 5 - batched.delivered) as f64 / (packets * 5) as f64
        );
    }
    let cpu_row = |name: &str, c: &PerPacket| {
        println!(
            "    {name:<8} {:>8.2?} {:>8.2?} {:>8.2?} {:>8.2?} {:>8.2?}  ({:.1}x raw without the emulator)",
            c.total(),
            c.daemons,
            c.emulator,
            c.ends,
            c.without_emulator(),
            c.without_emulator().as_secs_f64() / raw.cpu.total().as_secs_f64()
        );
    };
    println!("  CPU per packet:  total   2 itcd emulator  writer+reader  without emulator");
    cpu_row("raw", &raw.cpu);
    cpu_row("plain", &tree.cpu);
    cpu_row("batched", &batched.cpu);
    println!(
        "  one-way latency p50/p90/p99: tree {:?}/{:?}/{:?}, raw {:?}/{:?}/{:?}, p50 ratio {:.1}x (target <= 5x)",
        tree.p50,
        tree.p90,
        tree.p99,
        raw.p50,
        raw.p90,
        raw.p99,
        tree.p50.as_secs_f64() / raw.p50.as_secs_f64()
    );
    println!(
        "  context switches per round trip: tree {:.1} ({:.1} preempted), raw {:.1} ({:.1} preempted)",
        tree.switches[0] + tree.switches[1],
        tree.switches[1],
        raw.switches[0] + raw.switches[1],
        raw.switches[1],
    );
    // Each packet through the tree is one FUSE write and one FUSE read,
    // both synchronous; a round trip is four. Whatever the daemons do,
    // these bound the figures above.
    let ceiling = 1.0 / (2.0 * fuse_rtt.as_secs_f64());
    println!(
        "  one FUSE request round trip (p50, EAGAIN read): {fuse_rtt:?}; two per packet cap the tree at \
         {ceiling:.0} packets/s ({:.3}x raw), four per round trip floor the one-way latency at {:?} ({:.1}x raw)",
        ceiling / raw.pps,
        fuse_rtt * 2,
        (fuse_rtt * 2).as_secs_f64() / raw.p50.as_secs_f64()
    );
}

/// The p50 of `n` round trips of a nonblocking read that fails EAGAIN:
/// one FUSE request to an `itcd` and its answer, with no packet work.
fn fuse_round_trip(pair: &Pair, n: usize) -> Duration {
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(pair.mounts[0].join("tile/SE/mfm"))
        .expect("open an unconnected direction");
    let mut buf = [0u8; 256];
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        // SAFETY: buf is valid for writes of its length.
        let r = unsafe { libc::read(f.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        v.push(t.elapsed());
        assert!(r < 0, "a packet on an unconnected direction");
    }
    percentiles(v).0
}

/// CPU time (nanoseconds, all threads) and resident KiB of a process.
fn proc_usage(pid: u32) -> (u64, u64) {
    let mut ns = 0;
    if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let stat = fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            ns += stat
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (ns, rss)
}

/// Budgets: two idle daemons (hellos every 200 ms) together, CPU share of
/// one core over 10 s; and resident memory.
fn idle_budget() {
    let pair = start_pair("idle");
    let pids: Vec<u32> = pair.children.iter().map(|c| c.id()).collect();
    let before: u64 = pids.iter().map(|p| proc_usage(*p).0).sum();
    let span = Duration::from_secs(10);
    std::thread::sleep(span);
    let after: u64 = pids.iter().map(|p| proc_usage(*p).0).sum();
    let share = (after - before) as f64 / 1e9 / span.as_secs_f64() * 100.0;
    let rss: Vec<u64> = pids.iter().map(|p| proc_usage(*p).1).collect();
    println!(
        "idle: two itcd with hellos every 200 ms use {share:.3}% of one core together (budget < 2%); \
         resident memory {} KiB and {} KiB (budget < 16 MiB each)",
        rss[0], rss[1]
    );
}

fn main() {
    // `cargo test --benches` passes --bench-less args; only run when asked.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    // `cargo bench --bench tree -- pinned` runs only the sections whose
    // names are given (core, capture, idle, pinned, unpinned).
    let words: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| words.is_empty() || words.iter().any(|w| w.as_str() == name);
    if wanted("core") {
        core_figures();
    }
    if wanted("capture") {
        capture_figures();
    }
    if wanted("idle") {
        idle_budget();
    }
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    if wanted("pinned") {
        through_the_tree("pinned to CPU 0", &[0]);
    }
    if wanted("unpinned") {
        through_the_tree("unpinned", &(0..ncpu).collect::<Vec<_>>());
    }
}
