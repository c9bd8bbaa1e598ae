//! The tree with and without capture readers: what a stream of packets
//! between two real `itcd` costs them, in the same run.

use std::fs;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::{drain, open_rw, start_pair, stream, Stream};

/// A thread reading `itc/capture` of a tree until told to stop; returns
/// the records and bytes it read.
fn capture_reader(
    mount: &Path,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<(u64, u64)> {
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(mount.join("itc/capture"))
        .expect("open itc/capture");
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let (mut records, mut bytes) = (0u64, 0u64);
        let mut pfd = [libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(pfd.as_mut_ptr(), 1, 50) };
            while let Ok(n) = f.read(&mut buf) {
                let mut at = 0;
                while at + 2 <= n {
                    at += usize::from(u16::from_le_bytes([buf[at], buf[at + 1]]));
                    records += 1;
                }
                bytes += n as u64;
            }
        }
        (records, bytes)
    })
}

/// What a stream through the tree costs with a capture reader on each
/// tile, against the same stream without, on the same pair of daemons:
/// three rounds of each, alternated, so that both see the same machine.
pub fn capture_figures() {
    let pair = start_pair("capture");
    let packets = 20_000;
    let mut tx = open_rw(&pair.mounts[0].join("tile/ET/mfm"));
    let mut rx = open_rw(&pair.mounts[1].join("tile/WT/mfm"));
    let (mut plain, mut captured) = (Vec::new(), Vec::new());
    let mut read = Vec::new();
    for _ in 0..3 {
        plain.push(stream(&pair, &mut tx, &rx, packets));
        drain(&mut rx);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = pair
            .mounts
            .iter()
            .map(|m| capture_reader(m, stop.clone()))
            .collect();
        captured.push(stream(&pair, &mut tx, &rx, packets));
        drain(&mut rx);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        read = readers
            .into_iter()
            .map(|r| r.join().expect("capture reader"))
            .collect();
    }
    println!("capture (streams of {packets} MFM packets between two itcd, alternated):");
    let best = |runs: &[Stream]| {
        runs.iter()
            .map(|s| s.cpu.daemons)
            .min()
            .expect("three runs")
    };
    for (label, runs) in [
        ("no capture reader", &plain),
        ("a capture reader on each tile", &captured),
    ] {
        let each: Vec<String> = runs
            .iter()
            .map(|s| {
                let loss = if s.loss.is_empty() {
                    String::new()
                } else {
                    format!(", {}", s.loss)
                };
                format!("{:.1?} ({:.0} packets/s{loss})", s.cpu.daemons, s.pps)
            })
            .collect();
        println!(
            "  {label}: both itcd {:.1?} of CPU per packet at best; each run {}",
            best(runs),
            each.join(", ")
        );
    }
    println!(
        "  with capture readers: {:.2}x the CPU per packet (best against best); \
         in the last round the readers read {} and {} records ({} and {} KiB)",
        best(&captured).as_secs_f64() / best(&plain).as_secs_f64(),
        read[0].0,
        read[1].0,
        read[0].1 / 1024,
        read[1].1 / 1024,
    );
}
