//! Benchmark: simulated link bits per second of wall time.
//!
//! Builds a grid of tiles in process, each with its two PRUs running the
//! firmware's host build, wires facing directions pin to pin, keeps every
//! link busy with 200-byte packets in both directions, and steps all
//! instances in lockstep as `tile-sim --link firmware` does. One step is
//! one bit time on every wire, so steps per second of wall time is the
//! simulated bit rate of each link (goal for 1x2: the real link's
//! 2.5 Mbit/s). Prints figures; never fails.
//!
//! `cargo bench -p pru-firmware --bench wire_speed`

use std::time::{Duration, Instant};

use pru_firmware::{default_config, wire, Firmware, MAX_RPMSG_MSG};

/// (dir8, prudir, pru) of the six directions; the facing direction has the
/// same prudir on the other PRU (`docs/reference.md`, "Directions").
const DIRS: [(u8, usize, usize); 6] = [
    (2, 0, 0),
    (3, 1, 0),
    (5, 2, 0),
    (6, 0, 1),
    (7, 1, 1),
    (1, 2, 1),
];

/// The neighbour of (r, c) in direction dir8 on the hex-offset grid
/// (`docs/reference.md`, "Grid geometry"), if inside `rows` x `cols`.
fn neighbour(rows: usize, cols: usize, (r, c): (usize, usize), dir8: u8) -> Option<(usize, usize)> {
    let (r, c) = (r as isize, c as isize);
    let even = r % 2 == 0;
    let (dr, dc) = match dir8 {
        2 => (0, 1),
        6 => (0, -1),
        1 => (-1, if even { 0 } else { 1 }),
        7 => (-1, if even { -1 } else { 0 }),
        3 => (1, if even { 0 } else { 1 }),
        5 => (1, if even { -1 } else { 0 }),
        _ => return None,
    };
    let (nr, nc) = (r + dr, c + dc);
    (nr >= 0 && nc >= 0 && (nr as usize) < rows && (nc as usize) < cols)
        .then_some((nr as usize, nc as usize))
}

struct Grid {
    fw: Vec<Firmware>,
    /// Per instance: (prudir, facing instance) for each wired direction.
    faces: Vec<Vec<(usize, usize)>>,
    /// Per instance: the routed header bytes of its wired directions.
    headers: Vec<Vec<u8>>,
    links: usize,
}

impl Grid {
    fn new(rows: usize, cols: usize) -> Grid {
        let cfg = default_config();
        let tiles = rows * cols;
        let mut fw = Vec::new();
        for _ in 0..tiles {
            for pru in 0..2u8 {
                let mut f = Firmware::new(pru, &cfg).expect("firmware instance");
                f.push_host(&[]).expect("start message");
                fw.push(f);
            }
        }
        let mut faces = vec![Vec::new(); tiles * 2];
        let mut headers = vec![Vec::new(); tiles * 2];
        let mut links = 0;
        for r in 0..rows {
            for c in 0..cols {
                for (dir8, prudir, pru) in DIRS {
                    let Some((nr, nc)) = neighbour(rows, cols, (r, c), dir8) else {
                        continue;
                    };
                    let me = (r * cols + c) * 2 + pru;
                    let them = (nr * cols + nc) * 2 + (1 - pru);
                    faces[me].push((prudir, them));
                    headers[me].push(0x80 | dir8);
                    links += 1;
                }
            }
        }
        Grid {
            fw,
            faces,
            headers,
            links: links / 2,
        }
    }

    /// Keep every outbound direction supplied with packets.
    fn feed(&mut self, payload: &mut [u8]) {
        for (i, f) in self.fw.iter_mut().enumerate() {
            for &h in &self.headers[i] {
                payload[0] = h;
                if f.push_host(payload).is_err() {
                    break;
                }
            }
        }
    }

    fn drain(&mut self, buf: &mut [u8; MAX_RPMSG_MSG]) -> u64 {
        let mut n = 0;
        for f in &mut self.fw {
            while f.pop_host_into(buf).is_some() {
                n += 1;
            }
        }
        n
    }

    fn step(&mut self, outs: &mut [u32]) {
        for (f, o) in self.fw.iter_mut().zip(outs.iter_mut()) {
            f.step();
            *o = f.outputs();
        }
        for (i, f) in self.fw.iter_mut().enumerate() {
            let mut inputs = 0;
            for &(prudir, them) in &self.faces[i] {
                inputs |= wire(outs[them], prudir);
            }
            f.set_inputs(inputs);
        }
    }
}

fn run(rows: usize, cols: usize) {
    let mut g = Grid::new(rows, cols);
    let mut outs = vec![0u32; g.fw.len()];
    let mut payload = vec![0u8; 200];
    payload[1] = 20;
    let mut buf = [0u8; MAX_RPMSG_MSG];
    // Warm up: links gain sync.
    for _ in 0..20_000 {
        g.step(&mut outs);
    }
    g.drain(&mut buf);
    let span = Duration::from_secs(2);
    let t = Instant::now();
    let mut steps = 0u64;
    let mut messages = 0u64;
    while t.elapsed() < span {
        g.feed(&mut payload);
        for _ in 0..1024 {
            g.step(&mut outs);
        }
        steps += 1024;
        messages += g.drain(&mut buf);
    }
    let secs = t.elapsed().as_secs_f64();
    let bps = steps as f64 / secs;
    println!(
        "{rows}x{cols} grid ({} PRUs, {} links, all busy both ways): {:.2} Mbit/s simulated per link \
         ({:.2}x the real 2.5 Mbit/s), {:.1} Mbit/s of wire in all, {:.0} host messages/s",
        g.fw.len(),
        g.links,
        bps / 1e6,
        bps / 2.5e6,
        bps * 2.0 * g.links as f64 / 1e6,
        messages as f64 / secs
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    run(1, 2);
    run(3, 3);
}
