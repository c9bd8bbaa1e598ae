//! Benchmark: grids at scale. Figures, never pass/fail.
//!
//! For a 10x10 and a 32x32 grid (1024 tiles, `tile-sim`'s limit), each a
//! real `tile-sim run` with one real `itcd` per tile, the packet link model
//! at its defaults (2.5 Mbit/s, 1 s hellos):
//!
//! - time until every tree is served (`tile-sim` prints its table), and
//!   until every neighbour direction is `present` in the tiles' own
//!   `itc/status` files;
//! - idle CPU of the whole grid over a fixed window (`tile-sim`'s threads,
//!   every `itcd`, every mount helper), from `/proc/PID/task/*/schedstat`
//!   (nanoseconds on CPU, and runs: how often each woke);
//! - memory: resident (RSS, shared pages counted in every process) and
//!   proportional (PSS, shared pages divided among their users);
//! - time to stop on SIGINT, how many `itcd`s exited 0 (`tile-sim` says),
//!   and whether anything stayed mounted or in the directory.
//!
//! The larger grid's figures are printed beside the smaller one's, as
//! ratios per tile. The CPU figures are of a shared machine: compare runs
//! made side by side.
//!
//! `cargo bench -p tile-sim --bench scale` (as root: mounts FUSE trees).
//! `-- small` runs only the 10x10 grid. `SCALE_IDLE_SECS` sets the idle
//! window (default 10), `SCALE_BIN_DIR` takes `tile-sim` and `itcd` from
//! another directory (to compare builds).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use test_support::{mounts_under, unmount_all_under, workspace_bins};

const TILE_SIM: &str = env!("CARGO_BIN_EXE_tile-sim");

/// How long a grid may take to come up, or to have every neighbour.
const UP_DEADLINE: Duration = Duration::from_secs(180);
/// How long `tile-sim` may take to stop before the bench gives up.
const STOP_DEADLINE: Duration = Duration::from_secs(60);

/// A running `tile-sim run`, killed (by pid) and cleaned up on drop.
struct Grid {
    child: Option<Child>,
    dir: PathBuf,
    out: PathBuf,
    err: PathBuf,
}

impl Drop for Grid {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Its itcds get SIGTERM when it dies (parent-death signal).
            let _ = child.kill();
            let _ = child.wait();
        }
        unmount_all_under(&self.dir);
        let _ = fs::remove_dir_all(&self.dir);
        let _ = fs::remove_file(&self.out);
        let _ = fs::remove_file(&self.err);
    }
}

/// CPU time and runs of a set of threads.
#[derive(Clone, Copy, Default)]
struct Cpu {
    ns: u64,
    runs: u64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, o: Cpu) -> Cpu {
        Cpu {
            ns: self.ns.saturating_sub(o.ns),
            runs: self.runs.saturating_sub(o.runs),
        }
    }
}

/// Every thread of `pid`, by thread name: time on CPU and runs.
fn threads(pid: u32) -> HashMap<String, Cpu> {
    let mut out: HashMap<String, Cpu> = HashMap::new();
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let name = fs::read_to_string(path.join("comm")).unwrap_or_default();
        let stat = fs::read_to_string(path.join("schedstat")).unwrap_or_default();
        let f: Vec<u64> = stat
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() == 3 {
            let e = out.entry(name.trim().to_string()).or_default();
            e.ns += f[0];
            e.runs += f[2];
        }
    }
    out
}

fn cpu_of(pids: &[u32]) -> Cpu {
    pids.iter()
        .flat_map(|p| threads(*p).into_values())
        .fold(Cpu::default(), |a, c| Cpu {
            ns: a.ns + c.ns,
            runs: a.runs + c.runs,
        })
}

/// The children of `pid` (its mount helper, for an `itcd`).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// `key:` of a `/proc` file of `key: value kB` lines, in KiB, summed.
fn kib(pids: &[u32], file: &str, key: &str) -> u64 {
    pids.iter()
        .filter_map(|p| fs::read_to_string(format!("/proc/{p}/{file}")).ok())
        .filter_map(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .sum()
}

/// Neighbour directions `present` in every tile's `itc/status`.
fn present(dir: &Path, tiles: &[String]) -> usize {
    tiles
        .iter()
        .map(|t| {
            fs::read_to_string(dir.join(t).join("itc/status"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.split_whitespace().nth(2) == Some("present"))
                .count()
        })
        .sum()
}

/// Polls `f` every `every` until it holds or `deadline`; whether it held.
fn poll_until(deadline: Instant, every: Duration, mut f: impl FnMut() -> bool) -> bool {
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// What one grid measured.
struct Figures {
    tiles: usize,
    up: Duration,
    all_present: Duration,
    directions: usize,
    idle_secs: f64,
    sim: Cpu,
    itcds: Cpu,
    helpers: Cpu,
    sim_threads: Vec<(String, Cpu)>,
    rss_kib: u64,
    pss_kib: u64,
    itcd_pss_kib: u64,
    helper_pss_kib: u64,
    stop: Duration,
    /// How long `tile-sim` says stopping the `itcd`s took (the rest is
    /// the emulator and the directories).
    itcds_stopped: Option<f64>,
    exited_0: usize,
    left_mounted: usize,
    left_in_dir: bool,
}

fn pct(c: Cpu, secs: f64) -> f64 {
    c.ns as f64 / 1e9 / secs * 100.0
}

fn run_grid(bins: &(PathBuf, PathBuf), rows: usize, cols: usize, idle: Duration) -> Figures {
    let tag = format!("tile-sim-scale-{}-{rows}x{cols}", std::process::id());
    let base = std::env::temp_dir();
    let dir = base.join(&tag);
    let _ = fs::remove_dir_all(&dir);
    let out = base.join(format!("{tag}.out"));
    let err = base.join(format!("{tag}.err"));
    let started = Instant::now();
    let child = Command::new(&bins.0)
        .args([
            "run",
            "--rows",
            &rows.to_string(),
            "--cols",
            &cols.to_string(),
        ])
        .arg("--itcd")
        .arg(&bins.1)
        .arg("--dir")
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).expect("stdout file"))
        .stderr(fs::File::create(&err).expect("stderr file"))
        .spawn()
        .expect("start tile-sim run");
    let sim_pid = child.id();
    let mut grid = Grid {
        child: Some(child),
        dir: dir.clone(),
        out: out.clone(),
        err: err.clone(),
    };
    let text = |p: &Path| fs::read_to_string(p).unwrap_or_default();
    let up = poll_until(started + UP_DEADLINE, Duration::from_millis(20), || {
        text(&out).contains("control: ")
    });
    assert!(up, "the grid did not come up:\n{}", text(&err));
    let up = started.elapsed();
    let table = text(&out);
    // `NAME PID MOUNT` rows, then `N tiles, M packet links, ...`.
    let rows_of_table: Vec<(String, u32)> = table
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let name = w.next()?.to_string();
            let pid = w.next()?.parse().ok()?;
            Some((name, pid))
        })
        .collect();
    let links: usize = table
        .lines()
        .find_map(|l| {
            let (_, rest) = l.split_once(", ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .expect("the link count in the table");
    let directions = 2 * links;
    let names: Vec<String> = rows_of_table.iter().map(|(n, _)| n.clone()).collect();
    let itcds: Vec<u32> = rows_of_table.iter().map(|(_, p)| *p).collect();
    let all = poll_until(started + UP_DEADLINE, Duration::from_millis(100), || {
        present(&dir, &names) == directions
    });
    assert!(
        all,
        "{} of {directions} neighbour directions present",
        present(&dir, &names)
    );
    let all_present = started.elapsed();

    // Idle: a few hello intervals for the reads above to be forgotten,
    // then the window.
    std::thread::sleep(Duration::from_secs(3));
    let helpers: Vec<u32> = itcds.iter().flat_map(|p| children(*p)).collect();
    let sim0 = threads(sim_pid);
    let (i0, h0) = (cpu_of(&itcds), cpu_of(&helpers));
    let t0 = Instant::now();
    std::thread::sleep(idle);
    let sim1 = threads(sim_pid);
    let (i1, h1) = (cpu_of(&itcds), cpu_of(&helpers));
    let idle_secs = t0.elapsed().as_secs_f64();
    let mut sim_threads: Vec<(String, Cpu)> = sim1
        .iter()
        .map(|(n, c)| (n.clone(), *c - sim0.get(n).copied().unwrap_or_default()))
        .collect();
    sim_threads.sort_by_key(|(_, c)| std::cmp::Reverse(c.ns));
    let sim = sim_threads.iter().fold(Cpu::default(), |a, (_, c)| Cpu {
        ns: a.ns + c.ns,
        runs: a.runs + c.runs,
    });

    let mut everyone = vec![sim_pid];
    everyone.extend(&itcds);
    everyone.extend(&helpers);
    let rss_kib = kib(&everyone, "status", "VmRSS:");
    let pss_kib = kib(&everyone, "smaps_rollup", "Pss:");
    let itcd_pss_kib = kib(&itcds, "smaps_rollup", "Pss:");
    let helper_pss_kib = kib(&helpers, "smaps_rollup", "Pss:");

    // Stop.
    let stop_began = Instant::now();
    kill(Pid::from_raw(sim_pid as i32), Signal::SIGINT).expect("SIGINT to tile-sim");
    let mut child = grid.child.take().expect("tile-sim running");
    let mut status = None;
    let stopped = poll_until(stop_began + STOP_DEADLINE, Duration::from_millis(5), || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    let stop = stop_began.elapsed();
    if !stopped {
        let _ = child.kill();
        let _ = child.wait();
    }
    let stderr = text(&err);
    assert!(
        status.is_some_and(|s| s.success()),
        "tile-sim did not exit 0 ({status:?}):\n{stderr}"
    );
    // `N itcds stopped in S s, each with exit status 0` or `..., K of
    // them without exit status 0`.
    let summary = stderr
        .lines()
        .rev()
        .find(|l| l.contains(" stopped in "))
        .unwrap_or_default()
        .to_string();
    let exited_0 = if summary.ends_with("each with exit status 0") {
        itcds.len()
    } else if summary.is_empty() {
        // A tile-sim that does not sum up: every itcd it had to kill.
        let killed = stderr.lines().filter(|l| l.ends_with("killing it")).count();
        itcds.len().saturating_sub(killed)
    } else {
        let failed: usize = summary
            .rsplit_once(", ")
            .and_then(|(_, tail)| tail.split_whitespace().next()?.parse().ok())
            .unwrap_or(itcds.len());
        itcds.len().saturating_sub(failed)
    };
    let itcds_stopped = summary
        .split_once(" stopped in ")
        .and_then(|(_, t)| t.split_whitespace().next()?.parse().ok());
    let left_mounted = mounts_under(&dir).len();
    let left_in_dir = dir.exists();
    drop(grid);
    Figures {
        tiles: names.len(),
        up,
        all_present,
        directions,
        idle_secs,
        sim,
        itcds: i1 - i0,
        helpers: h1 - h0,
        sim_threads,
        rss_kib,
        pss_kib,
        itcd_pss_kib,
        helper_pss_kib,
        stop,
        itcds_stopped,
        exited_0,
        left_mounted,
        left_in_dir,
    }
}

fn print(rows: usize, cols: usize, f: &Figures) {
    let s = f.idle_secs;
    let total = Cpu {
        ns: f.sim.ns + f.itcds.ns + f.helpers.ns,
        runs: f.sim.runs + f.itcds.runs + f.helpers.runs,
    };
    println!("{rows}x{cols} grid, {} tiles:", f.tiles);
    println!("  trees served after      {:>8.2} s", f.up.as_secs_f64());
    println!(
        "  all {:>5} neighbour directions present after {:.2} s",
        f.directions,
        f.all_present.as_secs_f64()
    );
    println!(
        "  idle CPU over {s:.0} s      {:>7.2}% of one core in all ({:.0} runs/s)",
        pct(total, s),
        total.runs as f64 / s
    );
    println!(
        "    tile-sim             {:>7.2}% ({:.0} runs/s)",
        pct(f.sim, s),
        f.sim.runs as f64 / s
    );
    for (name, c) in &f.sim_threads {
        println!(
            "      thread {name:<13} {:>7.2}% ({:.0} runs/s)",
            pct(*c, s),
            c.runs as f64 / s
        );
    }
    println!(
        "    itcds                {:>7.2}% ({:.1} runs/s each)",
        pct(f.itcds, s),
        f.itcds.runs as f64 / s / f.tiles as f64
    );
    println!("    mount helpers        {:>7.2}%", pct(f.helpers, s));
    println!(
        "  memory: RSS {:.0} MiB summed, PSS {:.0} MiB in all ({:.2} MiB per itcd, {:.2} MiB per mount helper)",
        f.rss_kib as f64 / 1024.0,
        f.pss_kib as f64 / 1024.0,
        f.itcd_pss_kib as f64 / 1024.0 / f.tiles as f64,
        f.helper_pss_kib as f64 / 1024.0 / f.tiles as f64,
    );
    println!(
        "  stop on SIGINT          {:>8.2} s ({}), {} of {} itcds exited 0, {} mounts left, {}",
        f.stop.as_secs_f64(),
        f.itcds_stopped.map_or(
            "tile-sim gives no time for the itcds".to_string(),
            |t| format!("the itcds in {t:.1} s")
        ),
        f.exited_0,
        f.tiles,
        f.left_mounted,
        if f.left_in_dir {
            "the grid directory is still there"
        } else {
            "the grid directory is gone"
        }
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let small_only = args.iter().any(|a| a == "small");
    let idle = Duration::from_secs(
        std::env::var("SCALE_IDLE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10),
    );
    let bins = match std::env::var_os("SCALE_BIN_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            (d.join("tile-sim"), d.join("itcd"))
        }
        None => {
            let dir = Path::new(TILE_SIM).parent().expect("a binary directory");
            let built = workspace_bins(dir, &[("tile-sim", "tile-sim"), ("itcio", "itcd")]);
            (built[0].clone(), built[1].clone())
        }
    };
    println!(
        "grids at scale: {} and {} (packet links, 2.5 Mbit/s, 1 s hellos)",
        bins.0.display(),
        bins.1.display()
    );
    let mut grids = vec![(10, 10)];
    if !small_only {
        grids.push((32, 32));
    }
    let mut done: Vec<Figures> = Vec::new();
    for (rows, cols) in grids {
        let f = run_grid(&bins, rows, cols, idle);
        print(rows, cols, &f);
        done.push(f);
    }
    if let [a, b] = &done[..] {
        let per_tile = |x: f64, n: usize| x / n as f64;
        let ratio = |x: f64, y: f64| if y > 0.0 { x / y } else { f64::NAN };
        let cpu = |f: &Figures| (f.sim.ns + f.itcds.ns + f.helpers.ns) as f64 / f.idle_secs;
        println!(
            "{} tiles against {} ({:.2}x the tiles), per tile: idle CPU {:.2}x, PSS {:.2}x; \
             all present {:.2}x the time, stop {:.2}x",
            b.tiles,
            a.tiles,
            b.tiles as f64 / a.tiles as f64,
            ratio(per_tile(cpu(b), b.tiles), per_tile(cpu(a), a.tiles)),
            ratio(
                per_tile(b.pss_kib as f64, b.tiles),
                per_tile(a.pss_kib as f64, a.tiles)
            ),
            ratio(b.all_present.as_secs_f64(), a.all_present.as_secs_f64()),
            ratio(b.stop.as_secs_f64(), a.stop.as_secs_f64()),
        );
    }
}
