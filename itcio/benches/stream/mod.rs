//! The stream benchmarks' shared parts: CPU time of every process and
//! thread on a packet's path, and a stream through the batched files.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use itc_proto::batch::{push_item, Items};

/// CPU time (nanoseconds) of every thread of `pid`, and of its threads
/// named `name` apart.
fn threads_cpu(pid: u32, name: &str) -> (u64, u64) {
    let (mut all, mut named) = (0, 0);
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return (0, 0);
    };
    for t in tasks.flatten() {
        let ns = fs::read_to_string(t.path().join("schedstat"))
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        all += ns;
        let comm = fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            named += ns;
        }
    }
    (all, named)
}

/// The thread of the PRU and wire emulation (in this process).
const EMULATOR_THREAD: &str = "tile-wires";

/// CPU time spent so far on a packet's path.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    /// Every `itcd` on the path.
    pub daemons: u64,
    /// The emulated PRUs and wires.
    pub emulator: u64,
    /// The writer and the reader (this process but the emulator).
    pub ends: u64,
}

impl Cpu {
    /// Now, for `daemons` and this process.
    pub fn now(daemons: &[u32]) -> Cpu {
        let (all, emulator) = threads_cpu(std::process::id(), EMULATOR_THREAD);
        Cpu {
            daemons: daemons.iter().map(|p| threads_cpu(*p, "").0).sum(),
            emulator,
            ends: all - emulator,
        }
    }

    /// Per packet, from `before` to `self`, over `packets`.
    pub fn per_packet(self, before: Cpu, packets: usize) -> PerPacket {
        let per =
            |a: u64, b: u64| Duration::from_nanos(a.saturating_sub(b) / packets.max(1) as u64);
        PerPacket {
            daemons: per(self.daemons, before.daemons),
            emulator: per(self.emulator, before.emulator),
            ends: per(self.ends, before.ends),
        }
    }
}

/// CPU time per packet, by who spent it.
#[derive(Clone, Copy, Debug, Default)]
pub struct PerPacket {
    /// Both `itcd`.
    pub daemons: Duration,
    /// The emulated PRUs and wires.
    pub emulator: Duration,
    /// The writing and the reading program.
    pub ends: Duration,
}

impl PerPacket {
    /// Everything on the path.
    pub fn total(&self) -> Duration {
        self.daemons + self.emulator + self.ends
    }

    /// Everything but the emulator: what real tiles would spend.
    pub fn without_emulator(&self) -> Duration {
        self.daemons + self.ends
    }
}

/// What a one-way stream measured.
pub struct Stream {
    /// Packets delivered per second of the stream.
    pub pps: f64,
    /// Packets delivered.
    pub delivered: usize,
    /// CPU per packet written.
    pub cpu: PerPacket,
    /// Context switches per packet written, voluntary and preempted, of
    /// every thread on the path.
    pub switches: [f64; 2],
    /// Data items per read of the reader.
    pub items_per_read: f64,
}

/// Voluntary and preempted context switches of every thread of `pids`.
pub fn context_switches(pids: &[u32]) -> [u64; 2] {
    let mut total = [0; 2];
    for pid in pids {
        let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let status = fs::read_to_string(t.path().join("status")).unwrap_or_default();
            for line in status.lines() {
                let (key, value) = line.split_once(':').unwrap_or_default();
                let i = match key {
                    "voluntary_ctxt_switches" => 0,
                    "nonvoluntary_ctxt_switches" => 1,
                    _ => continue,
                };
                total[i] += value.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    total
}

/// Items per batched write: 63 items of 65 bytes, just under 4 KiB.
const ITEMS_PER_WRITE: usize = 63;

/// Stream `packets` packets of `payload` bytes from `tx` (a batched MFM
/// file of the tile whose `itcd` is `daemons[0]`) to `rx` (the batched MFM
/// file at the other end), as many per system call as fit in 4 KiB.
pub fn batched(tx: &Path, rx: &Path, daemons: &[u32], packets: usize, payload: usize) -> Stream {
    let open = |p: &Path| {
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    let mut tx = open(tx);
    let mut rx = open(rx);
    let received = Arc::new(AtomicUsize::new(0));
    let reads = Arc::new(AtomicUsize::new(0));
    let last_rx = Arc::new(Mutex::new(Instant::now()));
    let reader = {
        let received = received.clone();
        let reads = reads.clone();
        let last_rx = last_rx.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = rx.read(&mut buf).expect("batched read");
                let mut data = 0;
                let mut end = false;
                for item in Items::new(&buf[..n]) {
                    let item = item.expect("whole items");
                    if item[0] == 0xc4 {
                        continue;
                    }
                    end |= item[1] == 0xff;
                    data += usize::from(item[1] != 0xff);
                }
                received.fetch_add(data, Ordering::Relaxed);
                reads.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut t) = last_rx.lock() {
                    *t = Instant::now();
                }
                if end {
                    return rx;
                }
            }
        })
    };
    let mut pkt = vec![0xa0u8; payload];
    pkt[1] = 0;
    let mut one = Vec::new();
    for _ in 0..ITEMS_PER_WRITE {
        push_item(&mut one, &pkt);
    }
    let mut everyone = vec![std::process::id()];
    everyone.extend_from_slice(daemons);
    let switches_before = context_switches(&everyone);
    let before = Cpu::now(daemons);
    let t = Instant::now();
    let mut left = packets;
    while left > 0 {
        let n = left.min(ITEMS_PER_WRITE);
        tx.write_all(&one[..n * (payload + 1)])
            .expect("batched write");
        left -= n;
    }
    // Wait until the stream has drained: nothing new for 200 ms.
    let mut seen = 0;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = received.load(Ordering::Relaxed);
        if now == seen {
            break;
        }
        seen = now;
    }
    let cpu = Cpu::now(daemons).per_packet(before, packets);
    let switches_after = context_switches(&everyone);
    let switches = [0, 1].map(|i| (switches_after[i] - switches_before[i]) as f64 / packets as f64);
    let items_per_read =
        received.load(Ordering::Relaxed) as f64 / reads.load(Ordering::Relaxed).max(1) as f64;
    let end = *last_rx.lock().expect("clock");
    let delivered = received.load(Ordering::Relaxed);
    let pps = delivered as f64 / end.duration_since(t).as_secs_f64();
    // Stop the reader with end markers (one may be dropped too).
    pkt[1] = 0xff;
    let mut marker = Vec::new();
    push_item(&mut marker, &pkt);
    while !reader.is_finished() {
        tx.write_all(&marker).expect("end marker");
        std::thread::sleep(Duration::from_millis(5));
    }
    reader.join().expect("reader");
    Stream {
        pps,
        delivered,
        cpu,
        switches,
        items_per_read,
    }
}
