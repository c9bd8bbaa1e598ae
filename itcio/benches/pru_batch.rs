//! Benchmark: what batched PRU messages save. Figures, never pass/fail.
//!
//! Two real `itcd` processes joined by the packet model (in this process,
//! its thread `tile-wires`) stream packets from A's `tile/ET/svc/20` to
//! B's `tile/WT/svc/20`, once with `--pru-batch on` and once with `off`,
//! on an unlimited link and at the board's 2.5 Mbit/s (and the firmware
//! model, thread `tile-firmware`, at 2.5 Mbit/s). Per packet of the
//! stream: PRU messages and system calls on the PRU devices (sender and
//! receiver, from `itc/self`), and CPU time of the two `itcd`s and,
//! separately, of the emulator thread; then the ratios batched/single.
//!
//! `cargo bench -p itcio --bench pru_batch` (as root: it mounts FUSE trees).

use std::fs;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use itc_emu::{FirmwareModel, LinkModel, LinkParams, PacketModel, Wires};
use itc_proto::{Dir, Pru};
use nix::unistd::Pid;

/// Packets per stream.
const PACKETS: usize = 20_000;
/// Bytes per packet (header, service, payload).
const LEN: usize = 100;
/// Packets written and not yet read, at most (20 KB, within a reader's
/// queue of 64 KiB).
const WINDOW: usize = 200;

/// Two `itcd`s and the emulator between them; stopped and removed on drop.
struct Pair {
    children: Vec<Child>,
    mounts: Vec<PathBuf>,
    sim: Option<Box<dyn LinkModel>>,
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
        if let Some(sim) = self.sim.take() {
            sim.stop();
        }
        let _ = fs::remove_dir_all(&self.base);
    }
}

fn status(mount: &Path, rel: &str, key: &str) -> u64 {
    test_support::status_value(&mount.join(rel), key)
        .parse()
        .unwrap_or(0)
}

/// The emulator: which model, and the name of its thread.
#[derive(Clone, Copy)]
enum Model {
    Packet,
    Firmware,
}

impl Model {
    fn thread(self) -> &'static str {
        match self {
            Model::Packet => "tile-wires",
            Model::Firmware => "tile-firmware",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Model::Packet => "packet",
            Model::Firmware => "firmware",
        }
    }
}

fn start_pair(tag: &str, model: Model, rate_bps: u64, batch: &str) -> Pair {
    let base = std::env::temp_dir().join(format!("itc-bench-batch-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(base.join("s")).expect("bench dir");
    let mut wires = Wires::new(
        &base.join("s"),
        LinkParams {
            rate_bps,
            ..LinkParams::default()
        },
    );
    let a = wires.add_tile("A");
    let b = wires.add_tile("B");
    wires.connect(a, Dir::ET, b);
    let socks = [a, b].map(|id| {
        [
            wires.pru_socket(id, Pru::Pru0),
            wires.pru_socket(id, Pru::Pru1),
        ]
    });
    let sim = match model {
        Model::Packet => itc_emu::start::<PacketModel>(wires),
        Model::Firmware => itc_emu::start::<FirmwareModel>(wires),
    }
    .expect("PRU emulation");
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
            .args(["--name", name, "--pru-batch", batch])
            .args(["--queue-bytes", "65536", "--log-level", "warn"])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn itcd");
        children.push(child);
        mounts.push(m);
    }
    let pair = Pair {
        children,
        mounts,
        sim: Some(sim),
        base,
    };
    let ready = test_support::wait_for(Duration::from_secs(20), || {
        test_support::status_value(&pair.mounts[0].join("tile/ET/status"), "peer") == "present"
            && test_support::status_value(&pair.mounts[1].join("tile/WT/status"), "peer")
                == "present"
    });
    assert!(ready, "the pair never connected");
    pair
}

/// CPU nanoseconds of every thread of `pid` whose name is `comm` (any
/// name if `None`).
fn cpu_ns(pid: u32, comm: Option<&str>) -> u64 {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            comm.is_none_or(|c| {
                fs::read_to_string(t.path().join("comm")).is_ok_and(|n| n.trim() == c)
            })
        })
        .map(|t| {
            fs::read_to_string(t.path().join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}

/// The counters read before and after a stream.
#[derive(Clone, Copy, Default)]
struct Sample {
    out_msgs: u64,
    out_writes: u64,
    in_msgs: u64,
    in_reads: u64,
    itcd_ns: u64,
    emu_ns: u64,
    emu_from_host: u64,
    emu_to_host: u64,
}

fn sample(pair: &Pair, model: Model) -> Sample {
    let (a, b) = (&pair.mounts[0], &pair.mounts[1]);
    let stats = pair.sim.as_ref().expect("running").stats();
    Sample {
        out_msgs: status(a, "itc/self", "pru0_messages_out"),
        out_writes: status(a, "itc/self", "pru0_writes"),
        in_msgs: status(b, "itc/self", "pru1_messages_in"),
        in_reads: status(b, "itc/self", "pru1_reads"),
        itcd_ns: pair.children.iter().map(|c| cpu_ns(c.id(), None)).sum(),
        emu_ns: cpu_ns(std::process::id(), Some(model.thread())),
        emu_from_host: stats.tiles[0].prus[0].from_host,
        emu_to_host: stats.tiles[1].prus[1].to_host,
    }
}

/// Per-packet figures of one stream.
struct Figures {
    framing: String,
    packets: usize,
    received: usize,
    msgs_out: f64,
    writes: f64,
    msgs_in: f64,
    reads: f64,
    itcd_us: f64,
    emu_us: f64,
    emu_msgs: f64,
}

fn stream(model: Model, packets: usize, rate_bps: u64, batch: &str) -> Figures {
    let tag = format!("{}-{rate_bps}-{batch}", model.name());
    let pair = start_pair(&tag, model, rate_bps, batch);
    let framing = test_support::status_value(&pair.mounts[0].join("itc/self"), "pru0_framing");
    let mut reader = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(pair.mounts[1].join("tile/WT/svc/20"))
        .expect("open reader");
    let mut writer = fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(pair.mounts[0].join("tile/ET/svc/20"))
        .expect("open writer");
    let before = sample(&pair, model);
    // One thread writes and reads, at most WINDOW packets in flight, so
    // the reader's queue never overflows; it waits in poll(2).
    let mut p = vec![0x80 | Dir::ET.dir8(), 20];
    p.resize(LEN, 0x5a);
    let mut buf = [0u8; 256];
    let (mut sent, mut received) = (0usize, 0usize);
    let end = Instant::now() + Duration::from_secs(300);
    while received < packets && Instant::now() < end {
        let mut progress = false;
        while sent < packets && sent < received + WINDOW {
            p[2] = sent as u8;
            match writer.write(&p) {
                Ok(_) => {
                    sent += 1;
                    progress = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        loop {
            match reader.read(&mut buf) {
                Ok(n) if n > 0 && buf[0] != 0xc4 => received += 1,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
            progress = true;
        }
        if !progress {
            let mut fds = [
                libc::pollfd {
                    fd: reader.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: writer.as_raw_fd(),
                    events: if sent < packets && sent < received + WINDOW {
                        libc::POLLOUT
                    } else {
                        0
                    },
                    revents: 0,
                },
            ];
            // SAFETY: fds is a valid array of two pollfds for the call.
            unsafe { libc::poll(fds.as_mut_ptr(), 2, 1000) };
        }
    }
    let after = sample(&pair, model);
    let n = packets as f64;
    let d = |f: fn(&Sample) -> u64| (f(&after) - f(&before)) as f64 / n;
    Figures {
        framing,
        packets,
        received,
        msgs_out: d(|s| s.out_msgs),
        writes: d(|s| s.out_writes),
        msgs_in: d(|s| s.in_msgs),
        reads: d(|s| s.in_reads),
        itcd_us: d(|s| s.itcd_ns) / 1000.0,
        emu_us: d(|s| s.emu_ns) / 1000.0,
        emu_msgs: d(|s| s.emu_from_host + s.emu_to_host),
    }
}

fn report(label: &str, f: &Figures) {
    println!(
        "  {label:<8} ({}; {} of {} received): per packet {:.3} messages and {:.3} writes \
         to PRU0 at A, {:.3} messages and {:.3} reads from PRU1 at B; \
         emulator {:.3} socket messages; CPU {:.2} us both itcd, {:.2} us emulator",
        f.framing,
        f.received,
        f.packets,
        f.msgs_out,
        f.writes,
        f.msgs_in,
        f.reads,
        f.emu_msgs,
        f.itcd_us,
        f.emu_us
    );
}

fn main() {
    // `cargo test --benches` runs this with no --bench: only run when asked.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    for (model, packets, rate) in [
        (Model::Packet, PACKETS, 0u64),
        (Model::Packet, PACKETS, 2_500_000),
        (Model::Firmware, PACKETS / 4, 2_500_000),
    ] {
        let link = if rate == 0 {
            "unlimited link".to_owned()
        } else {
            format!("{rate} bit/s link")
        };
        println!(
            "pru_batch: {packets} packets of {LEN} bytes, A to B, {} model, {link}",
            model.name()
        );
        let single = stream(model, packets, rate, "off");
        report("single", &single);
        let batched = stream(model, packets, rate, "on");
        report("batched", &batched);
        println!(
            "  batched/single: messages out {:.2}, writes {:.2}, messages in {:.2}, reads {:.2}, \
             itcd CPU {:.2}, emulator CPU {:.2}",
            batched.msgs_out / single.msgs_out,
            batched.writes / single.writes,
            batched.msgs_in / single.msgs_in,
            batched.reads / single.reads,
            batched.itcd_us / single.itcd_us,
            batched.emu_us / single.emu_us
        );
    }
}
