//! The managed file service's budget: a 15 MB file published on a corner
//! tile of a 4x4 grid at the real link rate (2.5 Mbit/s), timed until every
//! tile holds it bit-identical, beside the pipelined ideal computed from
//! the protocol's sizes in the same run, and beside the 2020 Perl daemon.
//!
//! ```sh
//! cargo bench -p tile-sim --bench files             # as root: 16 FUSE mounts
//! cargo bench -p tile-sim --bench files -- 4 4 15   # rows, cols, MiB
//! ```
//!
//! Real binaries throughout: `tile-sim run --files` (16 `itcd`s, 16
//! `itc-files`), `tile-sim ctl publish`, and each daemon's control socket
//! (what `itc files status` reads) for the moment each tile's version goes
//! live. Besides the total it prints, per tile, its distance from the
//! publisher, when its first piece and its last arrived, and the counters
//! that say where time goes (requests, retries, replies dropped for a full
//! queue, busy announces); and the CPU time of every `itcd`, every
//! `itc-files` and the emulator, from `/proc`.

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use itc_files::client::Client;
use itc_files::control::Status;
use itc_files::manifest::{piece_size_for, FIXED_LEN};
use itc_files::wire::{CHUNK_LEN, LOCATOR_END, PACKET_HEADER_LEN};
use itc_proto::grid::Geometry;
use test_support::{unmount_all_under, wait_for, workspace_bins};

const TILE_SIM: &str = env!("CARGO_BIN_EXE_tile-sim");

/// The link rate, tile-sim's default (the T2 tile's links).
const RATE_BPS: f64 = 2_500_000.0;
/// Bytes of framing the emulated wire counts per packet (delimiters and
/// CRC; `itc-emu`'s packet model).
const FRAME_OVERHEAD: f64 = 4.0;
/// The 2020 Perl daemon: 15 MB in 45 min 40 s per hop.
const PERL_SECS_PER_HOP: f64 = 45.0 * 60.0 + 40.0;
const PERL_BYTES: f64 = 15.0 * 1024.0 * 1024.0;
/// How often the daemons are asked for their status.
const POLL: Duration = Duration::from_millis(250);
/// Longest the transfer may take before the bench gives up.
const GIVE_UP: Duration = Duration::from_secs(900);

/// A running `tile-sim run --files`, stopped (and its directory removed)
/// on drop.
struct Grid {
    child: Option<Child>,
    base: PathBuf,
    dir: PathBuf,
}

impl Drop for Grid {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            if !wait_for(Duration::from_secs(30), || {
                matches!(child.try_wait(), Ok(Some(_)))
            }) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        unmount_all_under(&self.dir);
        let _ = fs::remove_dir_all(&self.base);
    }
}

impl Grid {
    fn ctl(&self, args: &[&str]) -> String {
        let out = Command::new(TILE_SIM)
            .arg("ctl")
            .arg("--dir")
            .arg(&self.dir)
            .args(args)
            .output()
            .expect("run tile-sim ctl");
        assert!(
            out.status.success(),
            "ctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn store(&self, tile: &str) -> PathBuf {
        self.dir.join(".sim/store").join(tile)
    }

    fn status(&self, tile: &str) -> Option<Status> {
        Client::connect(&self.store(tile)).ok()?.status().ok()
    }
}

/// CPU seconds (user + system) of `pid` so far.
fn cpu_secs(pid: u32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line (11 and 12
    // after the name and state).
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|i| f.get(*i)?.parse::<f64>().ok())
        .sum();
    // SAFETY: sysconf reads a configuration value; no memory is passed.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / hz.max(1.0)
}

/// Hops from `from` to every tile, by breadth-first search over the links.
fn hops(geo: &Geometry, from: (usize, usize), n: usize) -> Vec<usize> {
    let mut dist = vec![usize::MAX; n];
    dist[geo.index(from)] = 0;
    let links: Vec<_> = geo.links().collect();
    let mut queue = VecDeque::from([from]);
    while let Some(t) = queue.pop_front() {
        let d = dist[geo.index(t)];
        for (a, _, b) in &links {
            for (x, y) in [(*a, *b), (*b, *a)] {
                if x == t && dist[geo.index(y)] == usize::MAX {
                    dist[geo.index(y)] = d + 1;
                    queue.push_back(y);
                }
            }
        }
    }
    dist
}

/// Seconds the wire takes for a packet carrying `message` bytes.
fn packet_secs(message: f64) -> f64 {
    (message + PACKET_HEADER_LEN as f64 + FRAME_OVERHEAD) * 8.0 / RATE_BPS
}

/// Seconds the wire takes to carry `len` bytes of an object (the manifest
/// or a piece) as DATA chunks.
fn object_secs(len: u64) -> f64 {
    let chunk = CHUNK_LEN as u64;
    let full = len / chunk;
    let rest = len % chunk;
    let mut secs = full as f64 * packet_secs((LOCATOR_END + CHUNK_LEN) as f64);
    if rest > 0 {
        secs += packet_secs((LOCATOR_END as u64 + rest) as f64);
    }
    secs
}

/// The file's content: not compressible, different every run.
fn content(len: usize) -> Vec<u8> {
    let mut x = u64::from(std::process::id()) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[derive(Default, Clone)]
struct Seen {
    first_piece: Option<f64>,
    live: Option<f64>,
}

fn main() {
    // `cargo bench` passes --bench; the numbers are rows, cols and MiB.
    let nums: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rows = nums.first().copied().unwrap_or(4);
    let cols = nums.get(1).copied().unwrap_or(4);
    let mib = nums.get(2).copied().unwrap_or(15);
    let len = mib * 1024 * 1024;

    let exe_dir = Path::new(TILE_SIM)
        .parent()
        .expect("tile-sim has a directory");
    workspace_bins(
        exe_dir,
        &[("itcio", "itcd"), ("itc-files-daemon", "itc-files")],
    );
    let base = std::env::temp_dir().join(format!("itc-files-bench-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(&base).expect("bench directory");
    let dir = base.join("grid");
    let log = fs::File::create(base.join("tile-sim.log")).expect("log");
    let child = Command::new(TILE_SIM)
        .args(["run", "--files", "--rows", &rows.to_string()])
        .args(["--cols", &cols.to_string(), "--dir"])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start tile-sim run");
    let sim_pid = child.id();
    let grid = Grid {
        child: Some(child),
        base: base.clone(),
        dir,
    };
    let geo = Geometry::new(rows, cols);
    let tiles: Vec<String> = geo.tiles().map(|(r, c)| Geometry::name(r, c)).collect();
    let log_text = || fs::read_to_string(base.join("tile-sim.log")).unwrap_or_default();
    assert!(
        wait_for(Duration::from_secs(120), || log_text().contains("control:")),
        "the grid did not come up:\n{}",
        log_text()
    );
    // Pids and links from `ctl list`; wait until every itc-files sees all
    // its neighbours.
    let list = grid.ctl(&["list"]);
    let mut itcds = Vec::new();
    let mut daemons = Vec::new();
    for line in list.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        itcds.push(w[1].parse::<u32>().expect("itcd pid"));
        let fp = w.iter().find_map(|x| x.strip_prefix("files:"));
        daemons.push(
            fp.and_then(|p| p.parse::<u32>().ok())
                .expect("itc-files pid"),
        );
        let links = w.iter().filter(|x| x.ends_with(":up")).count();
        let tile = w[0].to_string();
        assert!(
            wait_for(Duration::from_secs(60), || grid
                .status(&tile)
                .is_some_and(|s| s.neighbours.len() == links)),
            "{tile}'s itc-files never saw its neighbours"
        );
    }

    let file = base.join("big");
    let bytes = content(len);
    fs::write(&file, &bytes).expect("write the file");
    let cpu = |pids: &[u32]| pids.iter().map(|p| cpu_secs(*p)).sum::<f64>();
    let (itcd0, files0, sim0) = (cpu(&itcds), cpu(&daemons), cpu_secs(sim_pid));

    let start = Instant::now();
    let answer = grid.ctl(&[
        "publish",
        "r0c0",
        file.to_str().expect("UTF-8"),
        "--name",
        "big",
    ]);
    let published = start.elapsed().as_secs_f64();
    let version = grid
        .status("r0c0")
        .and_then(|s| s.file("big")?.live.as_ref().map(|l| l.version))
        .expect("r0c0 has it live");
    let mut seen = vec![Seen::default(); tiles.len()];
    while seen.iter().any(|s| s.live.is_none()) {
        assert!(
            start.elapsed() < GIVE_UP,
            "not everywhere after {} s:\n{}",
            GIVE_UP.as_secs(),
            grid.ctl(&["files"])
        );
        for (i, tile) in tiles.iter().enumerate() {
            if seen[i].live.is_some() {
                continue;
            }
            let Some(st) = grid.status(tile) else {
                continue;
            };
            let Some(f) = st.file("big") else { continue };
            let now = start.elapsed().as_secs_f64();
            if f.live.as_ref().is_some_and(|l| l.version == version) {
                seen[i].live = Some(now);
                seen[i].first_piece.get_or_insert(now);
            } else if f.fetch.as_ref().is_some_and(|x| x.pieces > 0) {
                seen[i].first_piece.get_or_insert(now);
            }
        }
        std::thread::sleep(POLL);
    }
    let total = start.elapsed().as_secs_f64();
    let (itcd1, files1, sim1) = (cpu(&itcds), cpu(&daemons), cpu_secs(sim_pid));
    for tile in &tiles {
        let live = grid.store(tile).join("live/big");
        let held = fs::read(&live).expect("the live file");
        assert!(
            held == bytes,
            "{tile}'s copy differs from the file published"
        );
    }

    // The ideal: one hop's transfer of the file and its manifest at the
    // link rate with every byte of protocol, plus for each further hop the
    // manifest and one piece, which a hop needs whole before it passes
    // anything on.
    let piece = u64::from(piece_size_for(len as u64).expect("a size the service takes"));
    let pieces = (len as u64).div_ceil(piece);
    let manifest_len = (FIXED_LEN + 3 + 32 * pieces as usize) as u64;
    let file_secs = (0..pieces)
        .map(|i| object_secs(piece.min(len as u64 - i * piece)))
        .sum::<f64>();
    let manifest_secs = object_secs(manifest_len);
    let hop_secs = file_secs + manifest_secs;
    let dist = hops(&geo, (0, 0), tiles.len());
    let longest = dist.iter().copied().max().unwrap_or(0);
    let per_hop = manifest_secs + object_secs(piece);
    let ideal = hop_secs + longest.saturating_sub(1) as f64 * per_hop;

    println!("managed files: {mib} MiB from r0c0 across a {rows}x{cols} grid, links 2.5 Mbit/s");
    println!("  {}", answer.trim());
    println!(
        "  file {len} bytes, {pieces} pieces of {piece} B, manifest {manifest_len} B, longest path {longest} hops"
    );
    println!();
    println!(
        "{:<6} {:>4} {:>12} {:>10} {:>9} {:>9} {:>8} {:>8} {:>6}",
        "tile", "hops", "first piece", "live", "received", "requests", "retries", "dropped", "busy"
    );
    for (i, tile) in tiles.iter().enumerate() {
        let st = grid.status(tile).unwrap_or_default();
        let c = |k: &str| st.counters.get(k).copied().unwrap_or_default();
        println!(
            "{:<6} {:>4} {:>11.1}s {:>9.1}s {:>9} {:>9} {:>8} {:>8} {:>6}",
            tile,
            dist[i],
            seen[i].first_piece.unwrap_or(0.0),
            seen[i].live.unwrap_or(0.0),
            c("pieces_received"),
            c("requests_sent"),
            c("retries_received"),
            c("serve_dropped"),
            c("busy"),
        );
    }
    println!();
    let perl_rate = PERL_BYTES / PERL_SECS_PER_HOP;
    let one_hop = (0..tiles.len())
        .filter(|i| dist[*i] == 1)
        .filter_map(|i| seen[i].live)
        .fold(f64::INFINITY, f64::min);
    println!("{:<46} {:>10}", "figure", "value");
    println!(
        "{:<46} {:>9.1}s",
        "publish command (hash, sign, store)", published
    );
    println!(
        "{:<46} {:>9.1}s",
        "every tile bit-identical, from publish", total
    );
    println!(
        "{:<46} {:>9.1}s",
        "one hop at the link rate, all protocol bytes", hop_secs
    );
    println!(
        "{:<46} {:>9.2}s",
        "pipeline latency per further hop", per_hop
    );
    println!("{:<46} {:>9.1}s", "pipelined ideal", ideal);
    println!("{:<46} {:>9.2}x", "ratio (goal <= 1.25x)", total / ideal);
    println!(
        "{:<46} {:>9.1}s",
        format!("CPU of the {} itc-files", daemons.len()),
        files1 - files0
    );
    println!(
        "{:<46} {:>9.1}s",
        format!("CPU of the {} itcd", itcds.len()),
        itcd1 - itcd0
    );
    println!(
        "{:<46} {:>9.1}s",
        "CPU of tile-sim (the wires)",
        sim1 - sim0
    );
    println!(
        "{:<46} {:>8.1}%",
        "all of it, of one core",
        100.0 * ((files1 - files0) + (itcd1 - itcd0) + (sim1 - sim0)) / total
    );
    println!(
        "{:<46} {:>9.1}s  ({:.0} KB/s)",
        "first neighbour bit-identical, here",
        one_hop,
        len as f64 / one_hop / 1000.0
    );
    println!(
        "{:<46} {:>6.0}m{:02.0}s  ({:.1} KB/s; {} hops: {:.1} h)",
        "one hop, 2020 Perl daemon (15 MB)",
        (PERL_SECS_PER_HOP / 60.0).floor(),
        PERL_SECS_PER_HOP % 60.0,
        perl_rate / 1000.0,
        longest,
        longest as f64 * PERL_SECS_PER_HOP / 3600.0
    );
    drop(grid);
}
