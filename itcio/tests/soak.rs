//! Random use of a live grid from every side at once: users opening,
//! reading, writing, polling and closing every kind of file with any
//! flags and sizes, physics changes, links cut and restored, damaged and
//! overrun packets, and arbitrary messages from the PRUs, on three real
//! `itcd` processes over lossy, noisy emulated links. Every call must get
//! an answer a user can act on (success or a documented errno), every
//! daemon must keep serving, and once the noise stops the tiles must find
//! each other again. The run is reproducible: the seed is printed, and
//! `ITC_SOAK_SEED=N` repeats it.
//!
//! And a thousand link flaps under streaming traffic: every `itcd` keeps
//! its memory and descriptors flat, and every reader sees the TEPs in
//! order with the data.

mod common;

use std::collections::HashMap;
use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use itc_emu::LinkParams;
use itc_proto::Dir;
use test_support::Rng;

/// What a file of the tree is, for the flags and sizes the test uses.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// mfm or svc/NN: read and written a packet at a time.
    Packet,
    /// events: read only.
    Events,
    /// status and self: read only, text.
    Text,
    /// itc/physics.
    Physics,
}

fn files() -> Vec<(String, Kind)> {
    let mut v = vec![
        ("itc/mfm".to_string(), Kind::Packet),
        ("itc/svc/02".to_string(), Kind::Packet),
        ("itc/svc/20".to_string(), Kind::Packet),
        ("itc/events".to_string(), Kind::Events),
        ("itc/status".to_string(), Kind::Text),
        ("itc/self".to_string(), Kind::Text),
        ("itc/physics".to_string(), Kind::Physics),
    ];
    for d in Dir::ALL {
        v.push((format!("tile/{d}/mfm"), Kind::Packet));
        v.push((format!("tile/{d}/svc/20"), Kind::Packet));
        v.push((format!("tile/{d}/events"), Kind::Events));
        v.push((format!("tile/{d}/status"), Kind::Text));
    }
    v
}

/// A packet to write: mostly well-formed for the file, often not.
/// `wired` are the directions the writing tile has neighbours in.
fn packet(rng: &mut Rng, rel: &str, wired: &[Dir]) -> Vec<u8> {
    let len = *rng.pick(&[1usize, 2, 3, 16, 64, 200, 255, 256, 300]);
    let mut p = rng.bytes(len);
    if rng.chance(0.8) {
        let dir = if rng.chance(0.8) {
            rng.pick(wired).dir8()
        } else {
            rng.pick(&Dir::ALL).dir8()
        };
        let mfm = rel.ends_with("mfm");
        p[0] = 0x80 | if mfm { 0x20 } else { 0 } | dir;
        if !mfm && p.len() > 1 {
            p[1] = if rel.ends_with("02") { 2 } else { 20 };
        }
    }
    p
}

/// A message as a PRU might send it, or garbage.
fn pru_message(rng: &mut Rng, dir: Dir) -> Vec<u8> {
    let d = dir.dir8();
    match rng.below(8) {
        0 => vec![0xc3, *rng.pick(b"PFTEMX"), d],
        1 => {
            // A bounce of something, or of nothing.
            let mut m = vec![0xc5, rng.below(4) as u8];
            let n = rng.below(40);
            m.extend(rng.bytes(n));
            m
        }
        2 => {
            // A hello with random contents.
            let mut m = vec![0x80 | d, 1];
            let n = rng.below(80);
            m.extend(rng.bytes(n));
            m
        }
        3 => vec![0x80 | d, 2, 1, 7, 7], // an echo request
        4 => Vec::new(),
        _ => {
            let n = 1 + rng.below(300);
            let mut m = rng.bytes(n);
            if rng.chance(0.5) {
                m[0] = 0x80 | (m[0] & 0x38) | d;
            }
            m
        }
    }
}

/// Fails with `what` unless `r` is success or one of `allowed`; returns
/// the value or the errno.
fn check<T>(r: std::io::Result<T>, allowed: &[i32], what: &dyn Fn() -> String) -> Result<T, i32> {
    r.map_err(|e| {
        let code = e.raw_os_error().unwrap_or(-1);
        assert!(allowed.contains(&code), "{}: unexpected {e}", what());
        code
    })
}

#[test]
fn random_use_from_every_side_keeps_every_daemon_serving() {
    let seed = std::env::var("ITC_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |t| t.as_nanos() as u64)
        });
    eprintln!("soak seed {seed} (repeat with ITC_SOAK_SEED={seed})");
    let mut rng = Rng::new(seed);

    // A triangle: A-ET-B, A-SE-C, B-SW-C, with loss and damage.
    let spec = GridSpec {
        names: vec!["A", "B", "C"],
        links: vec![(0, Dir::ET, 1), (0, Dir::SE, 2), (1, Dir::SW, 2)],
        params: LinkParams {
            rate_bps: 0,
            loss: 0.02,
            corrupt: 0.02,
            seed,
            ..LinkParams::default()
        },
        extra_args: vec![vec![], vec![], vec![]],
        hello_ms: 50,
        absent_ms: 400,
    };
    let g = Grid::start(spec);
    for (i, d) in [(0, Dir::ET), (0, Dir::SE), (1, Dir::SW)] {
        g.wait_present(i, d);
    }
    let files = files();
    let wired = [[Dir::ET, Dir::SE], [Dir::WT, Dir::SW], [Dir::NW, Dir::NE]];
    let wires = [(0, Dir::ET), (0, Dir::SE), (1, Dir::SW)];
    let mut open_files: HashMap<(usize, usize), (fs::File, Kind)> = HashMap::new();
    let mut log: Vec<String> = Vec::new();
    // Calls that succeeded, by kind: the run must not pass by doing nothing.
    let mut done: HashMap<&str, u32> = HashMap::new();
    let end = Instant::now() + Duration::from_secs(10);
    let mut ops = 0u32;
    while ops < 20_000 && Instant::now() < end {
        ops += 1;
        let t = rng.below(g.tiles.len());
        let tile = g.tile(t);
        let fi = rng.below(files.len());
        let (rel, kind) = (&files[fi].0, files[fi].1);
        let what = |op: &str| format!("op {ops} (seed {seed}): {} {op} {rel}", tile.name);
        match rng.below(20) {
            0..=3 => {
                if open_files.contains_key(&(t, fi)) {
                    continue;
                }
                let flags = match kind {
                    Kind::Packet => *rng.pick(&[libc::O_RDONLY, libc::O_WRONLY, libc::O_RDWR]),
                    Kind::Physics => libc::O_RDWR,
                    Kind::Events | Kind::Text => libc::O_RDONLY,
                };
                log.push(what(&format!("open {flags:#o}")));
                let r = open(&tile.path(rel), flags | libc::O_NONBLOCK);
                if let Ok(f) = check(r, &[libc::EBUSY], &|| what("open")) {
                    *done.entry("open").or_default() += 1;
                    open_files.insert((t, fi), (f, kind));
                }
            }
            4..=8 => {
                let Some((f, kind)) = open_files.get(&(t, fi)) else {
                    continue;
                };
                let size = *rng.pick(&[1usize, 2, 3, 64, 255, 256, 4096]);
                log.push(what(&format!("read {size}")));
                let allowed: &[i32] = match kind {
                    Kind::Packet => &[libc::EAGAIN, libc::EMSGSIZE, libc::ESTALE, libc::EBADF],
                    Kind::Events => &[libc::EAGAIN, libc::EMSGSIZE],
                    Kind::Text | Kind::Physics => &[],
                };
                match check(read_packet(f, size), allowed, &|| what("read")) {
                    Ok(_) => *done.entry("read").or_default() += 1,
                    // As a user would: reopen after a physics change.
                    Err(libc::ESTALE) => drop(open_files.remove(&(t, fi))),
                    Err(_) => {}
                }
            }
            9..=12 => {
                let Some((f, kind)) = open_files.get(&(t, fi)) else {
                    continue;
                };
                match kind {
                    Kind::Packet => {
                        let p = packet(&mut rng, rel, &wired[t]);
                        log.push(what(&format!("write {:02x?}", &p[..p.len().min(3)])));
                        let allowed = [
                            libc::EAGAIN,
                            libc::EMSGSIZE,
                            libc::EINVAL,
                            libc::EHOSTUNREACH,
                            libc::ESTALE,
                            libc::EBADF,
                        ];
                        match check(write_packet(f, &p), &allowed, &|| what("write")) {
                            Ok(_) => *done.entry("write").or_default() += 1,
                            Err(libc::ESTALE) => drop(open_files.remove(&(t, fi))),
                            Err(_) => {}
                        }
                    }
                    Kind::Physics => {
                        // Now and then, as `echo a > itc/physics` does it
                        // (writes on one descriptor add up to one id).
                        if !rng.chance(0.1) {
                            continue;
                        }
                        let id = *rng.pick(&["\n", "a\n", "b"]);
                        log.push(what(&format!("set {id:?}")));
                        let _ = check(fs::write(tile.path(rel), id), &[], &|| what("set"));
                    }
                    Kind::Events | Kind::Text => {}
                }
            }
            13 => {
                if let Some((f, _)) = open_files.get(&(t, fi)) {
                    log.push(what("poll"));
                    poll_fd(f, libc::POLLIN | libc::POLLOUT, 0);
                }
            }
            14 | 15 => {
                log.push(what("close"));
                open_files.remove(&(t, fi));
            }
            16 => {
                let (a, d) = *rng.pick(&wires);
                log.push(format!("op {ops}: cut or restore {} {d}", g.tile(a).name));
                // Links are up more often than not.
                if rng.chance(0.3) {
                    g.sim().cut(g.ids[a], d);
                } else {
                    g.sim().restore(g.ids[a], d);
                }
            }
            17 => {
                let (a, d) = *rng.pick(&wires);
                let n = 1 + rng.below(3) as u32;
                log.push(format!(
                    "op {ops}: damage or overrun {n} from {}",
                    g.tile(a).name
                ));
                if rng.chance(0.5) {
                    g.sim().damage_next(g.ids[a], d, n);
                } else {
                    g.sim().overrun_next(g.ids[a], d, n);
                }
            }
            _ => {
                let d = *rng.pick(&Dir::ALL);
                let pru = d.pru();
                let m = pru_message(&mut rng, d);
                log.push(format!(
                    "op {ops}: PRU message to {}: {:02x?}",
                    tile.name,
                    &m[..m.len().min(8)]
                ));
                g.sim().inject(g.ids[t], pru, m);
            }
        }
    }
    drop(open_files);
    eprintln!("{ops} operations; succeeded: {done:?}");
    for kind in ["open", "read", "write"] {
        assert!(
            done.get(kind).copied().unwrap_or(0) >= 20,
            "too few calls of {kind} succeeded: {done:?}"
        );
    }

    // Every daemon still runs, and, the links restored and the physics
    // made equal, the tiles find each other again.
    let last = || log[log.len().saturating_sub(30)..].join("\n");
    for t in &g.tiles {
        let pid = t.pid();
        let alive =
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
        assert!(
            alive,
            "{}'s itcd died; last operations:\n{}\n{}",
            t.name,
            last(),
            g.dump()
        );
        assert!(
            !t.log_text().contains("panicked"),
            "{} panicked:\n{}",
            t.name,
            t.log_text()
        );
        // `echo > itc/physics`: an empty write never reaches the tree.
        fs::write(t.path("itc/physics"), "\n").expect("physics back to empty");
    }
    for (a, d) in wires {
        g.sim().restore(g.ids[a], d);
    }
    for (i, d) in [
        (0, Dir::ET),
        (0, Dir::SE),
        (1, Dir::SW),
        (1, Dir::WT),
        (2, Dir::NW),
        (2, Dir::NE),
    ] {
        let t = g.tile(i);
        let back = wait_for(DEADLINE, || {
            t.dir_status(d, "peer") == "present" && t.dir_status(d, "physics") == "compatible"
        });
        assert!(
            back,
            "{} {d} never came back (seed {seed}):\n{}",
            t.name,
            g.dump()
        );
    }
}

/// What one tile's streaming reader saw break the TEP order, if anything,
/// and how many packets and TEPs it read.
#[derive(Debug, Default)]
struct Stream {
    errors: Vec<String>,
    data: u64,
    teps: u64,
}

/// Checks one item read from an `itc/...` file against the presence it
/// follows: per direction, Connect and Disconnect alternate (the snapshot
/// Connect first), and no packet from D comes while D is disconnected.
fn check_order(item: &[u8], present: &mut [bool; 6], s: &mut Stream, what: &str) {
    let mut fail = |m: String| {
        if s.errors.len() < 20 {
            s.errors.push(format!("{what}: {m}"));
        }
    };
    if item.first() != Some(&0xc4) {
        s.data += 1;
        match Dir::from_dir8(item[0] & 7) {
            Ok(d) if present[d.index()] => {}
            Ok(d) => fail(format!("packet from {d} while it is disconnected")),
            Err(_) => fail(format!("packet from no direction: {item:02x?}")),
        }
        return;
    }
    s.teps += 1;
    let dir = item.get(2).and_then(|b| Dir::from_dir8(*b).ok());
    match (item.get(1), dir) {
        (Some(0x01), Some(d)) if !present[d.index()] => present[d.index()] = true,
        (Some(0x02), Some(d)) if present[d.index()] => present[d.index()] = false,
        // Packets lost: it comes right before a packet from D.
        (Some(0x04), Some(d)) if present[d.index()] => {}
        _ => fail(format!("out of order: {item:02x?} with {present:?}")),
    }
}

/// One tile's traffic until `stop`: reads `itc/mfm` and `itc/events` as
/// they come, checking the order, and writes MFM packets to every
/// neighbour its `itc/mfm` says is present.
fn stream(tile: &TileProc, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Stream> {
    use std::os::fd::AsRawFd;
    let mfm = open(&tile.path("itc/mfm"), libc::O_RDWR | libc::O_NONBLOCK).unwrap();
    let events = open(&tile.path("itc/events"), libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
    let name = tile.name.clone();
    std::thread::spawn(move || {
        let mut s = Stream::default();
        let (mut on_mfm, mut on_events) = ([false; 6], [false; 6]);
        let mut turn = 0;
        while !stop.load(Ordering::Relaxed) {
            let wants_out = on_mfm.contains(&true);
            let mut fds = [
                libc::pollfd {
                    fd: mfm.as_raw_fd(),
                    events: libc::POLLIN | if wants_out { libc::POLLOUT } else { 0 },
                    revents: 0,
                },
                libc::pollfd {
                    fd: events.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: fds is a valid array of two pollfds for the call.
            unsafe { libc::poll(fds.as_mut_ptr(), 2, 50) };
            while let Ok(p) = read_packet(&mfm, 256) {
                check_order(&p, &mut on_mfm, &mut s, &format!("{name} itc/mfm"));
            }
            while let Ok(p) = read_packet(&events, 256) {
                check_order(&p, &mut on_events, &mut s, &format!("{name} itc/events"));
            }
            if fds[0].revents & libc::POLLOUT != 0 {
                // One packet to the next present neighbour; EAGAIN and
                // EHOSTUNREACH (it just left) are the link's business.
                let present: Vec<Dir> =
                    Dir::ALL.into_iter().filter(|d| on_mfm[d.index()]).collect();
                if let Some(d) = present.get(turn % present.len().max(1)) {
                    turn += 1;
                    let mut p = vec![0xa0 | d.dir8()];
                    p.resize(64, turn as u8);
                    let _ = write_packet(&mfm, &p);
                }
            }
        }
        s
    })
}

#[test]
fn a_thousand_flaps_under_traffic_keep_memory_flat_and_teps_in_order() {
    // A line: A-ET-B-ET-C. Both links flap in turn.
    let spec = GridSpec {
        names: vec!["A", "B", "C"],
        links: vec![(0, Dir::ET, 1), (1, Dir::ET, 2)],
        extra_args: vec![vec![], vec![], vec![]],
        ..GridSpec::pair()
    };
    let g = Grid::start(spec);
    for (i, d) in [(0, Dir::ET), (1, Dir::WT), (1, Dir::ET), (2, Dir::WT)] {
        g.wait_present(i, d);
    }
    let links = [(0, Dir::ET), (1, Dir::ET)];
    let watch: Vec<fs::File> = links
        .iter()
        .map(|(i, d)| {
            let f = open(
                &g.tile(*i).path(&format!("tile/{d}/events")),
                libc::O_RDONLY,
            )
            .unwrap();
            assert_eq!(next_packet(&f), [0xc4, 0x01]);
            f
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let streams: Vec<_> = g.tiles.iter().map(|t| stream(t, stop.clone())).collect();
    let usage = || -> Vec<(u64, usize)> {
        g.tiles
            .iter()
            .map(|t| (rss_kib(t.pid()), fd_count(t.pid())))
            .collect()
    };
    let started = Instant::now();
    let mut warm = Vec::new();
    for n in 0..1000 {
        if n == 100 {
            warm = usage();
        }
        let k = n % links.len();
        let (i, d) = links[k];
        let rx = g.tile(i).counter(d, "rx_mfm_packets");
        flap(&g, i, d, &watch[k]);
        // Traffic flows again before the next flap.
        eventually!(
            g.tile(i).counter(d, "rx_mfm_packets") > rx,
            "no traffic after flap {n}\n{}",
            g.dump()
        );
    }
    let end = usage();
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<Stream> = streams.into_iter().map(|h| h.join().unwrap()).collect();
    eprintln!(
        "1000 flaps in {took:?}; itcd (RSS KiB, fds) after 100: {warm:?}, after 1000: {end:?}"
    );
    for (t, s) in g.tiles.iter().zip(&seen) {
        eprintln!("{}: {} packets, {} TEPs read", t.name, s.data, s.teps);
        assert!(s.errors.is_empty(), "{}:\n{}", t.name, s.errors.join("\n"));
        assert!(
            s.data > 100 && s.teps >= 1000,
            "{} saw too little: {s:?}",
            t.name
        );
    }
    for ((t, (rss0, fds0)), (rss1, fds1)) in g.tiles.iter().zip(&warm).zip(&end) {
        assert_eq!(fds0, fds1, "{}'s descriptors", t.name);
        // Flat: a thousand flaps leave no trace but page-level noise.
        assert!(
            *rss1 <= rss0 + 256,
            "{}'s memory grew from {rss0} to {rss1} KiB",
            t.name
        );
    }
}
