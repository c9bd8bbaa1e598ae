//! `tile-sim run`: builds the grid, starts one `itcd` per tile (and with
//! `--files` one `itc-files`), serves the control socket, and stays in the
//! foreground until SIGINT, SIGTERM or SIGHUP; then stops every daemon,
//! makes sure nothing stays mounted, removes the directories it made (the
//! empty mount points, `DIR/.sim` but the file service's stores and key,
//! and `--dir` if it made it and it is empty), and returns. When no `itcd`
//! comes up at all it stops the same way at once and fails ("no tile came
//! up"), instead of serving an empty grid.
//!
//! The main thread handles signals only, read from a signalfd: SIGINT,
//! SIGTERM and SIGHUP stop the grid (SIGHUP when its terminal closes: the
//! shell sends it to every process of the job, `itcd`s included, and the
//! terminal no longer takes output, so nothing said after it may fail the
//! stop, see [`note`]); SIGCHLD collects `itcd`s that exited and reports
//! those that died on their own. Control requests are served on their own
//! thread ([`crate::ctl`]); both threads share [`State`] behind one lock.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use itc_emu::{LinkParams, TileId, Wires};
use itc_proto::Pru;
use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::ctl::Control;
use crate::files::Layout;
use crate::link::Link;
use crate::mounts::{self, CreatedDirs};
use crate::process::{Daemon, Launch};
use crate::state::{Shared, State, Stopped};
use crate::tiles::Tile;
use itc_proto::grid::Geometry;

/// Options of `tile-sim run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Rows of tiles.
    #[arg(long, default_value_t = 2, value_parser = parse_positive::<usize>)]
    rows: usize,
    /// Columns of tiles.
    #[arg(long, default_value_t = 2, value_parser = parse_positive::<usize>)]
    cols: usize,
    /// Directory for the mounts (DIR/r{row}c{col}), the emulated PRU
    /// sockets and the control socket (DIR/.sim).
    #[arg(long)]
    dir: PathBuf,
    /// How links are emulated: `packet` (whole packets with rate, latency,
    /// loss and corruption) or `firmware` (the PRU firmware's host build,
    /// bit by bit; --rate throttles busy wires, --corrupt is per bit,
    /// --latency and --loss do not apply).
    #[arg(long, value_enum, default_value_t = Link::Packet)]
    link: Link,
    /// Link speed in bits per second; 0 is unlimited.
    #[arg(long, default_value_t = 2_500_000)]
    rate: u64,
    /// One-way link latency in microseconds.
    #[arg(long, default_value_t = 0)]
    latency: u64,
    /// Probability that a packet is lost on a wire.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    loss: f64,
    /// Probability that a packet is damaged on a wire: the far PRU drops
    /// it and reports it (counted in `frame_errors`), and the link stays
    /// up; with `--link firmware`, that each bit on a wire is flipped
    /// (idle wires freeze between bit errors, which still reach the idle
    /// delimiters at the line's rate).
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    corrupt: f64,
    /// Seed of the links' random choices (loss, corruption, bit flips);
    /// printed at start, so that a run can be repeated [default: random].
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Hello interval of every itcd, in milliseconds (at most an hour).
    #[arg(long, default_value_t = 1000, value_parser = parse_hello)]
    hello: u64,
    /// The itcd binary (default: next to tile-sim, else from PATH).
    #[arg(long)]
    itcd: Option<PathBuf>,
    /// Whether the emulated PRUs agree to batched messages (several
    /// packets per socket message) when an itcd offers them; off behaves
    /// as firmware that does not batch.
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    pru_batch: OnOff,
    /// Whether each itcd offers batched messages to its PRUs (its
    /// --pru-batch).
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    itcd_pru_batch: OnOff,
    /// itcd log level (info shows links and neighbours coming and going);
    /// also itc-files's with --files.
    #[arg(long, default_value = "warn")]
    log_level: String,
    /// Run the managed file service too: one itc-files per tile, its store
    /// in DIR/.sim/store/r{row}c{col}, all trusting one key made for the
    /// grid (DIR/.sim/keys); `ctl publish`, `ctl delete` and `ctl files`
    /// drive them.
    #[arg(long)]
    files: bool,
    /// The itc-files binary (default: next to tile-sim, else from PATH).
    #[arg(long, value_name = "PATH")]
    itc_files: Option<PathBuf>,
}

/// A switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    /// Yes.
    On,
    /// No.
    Off,
}

impl OnOff {
    fn word(self) -> &'static str {
        match self {
            OnOff::On => "on",
            OnOff::Off => "off",
        }
    }
}

/// Parses a whole number of at least 1.
fn parse_positive<T: std::str::FromStr + PartialOrd + From<u8>>(text: &str) -> Result<T, String> {
    match text.parse::<T>() {
        Ok(n) if n >= T::from(1) => Ok(n),
        _ => Err("expected a whole number, at least 1".to_string()),
    }
}

/// The longest hello interval, in milliseconds: an hour. Absence comes
/// after three and a half intervals.
const MAX_HELLO_MS: u64 = 3_600_000;

/// The most tiles a grid may have: each is an `itcd` with a FUSE mount, so
/// a typo such as `--rows 1000` would otherwise exhaust the machine.
const MAX_TILES: usize = 1024;

/// Parses a hello interval: 1 to [`MAX_HELLO_MS`] milliseconds.
fn parse_hello(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if (1..=MAX_HELLO_MS).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected milliseconds from 1 to {MAX_HELLO_MS} (an hour)"
        )),
    }
}

/// Parses a probability: a number from 0 to 1.
fn parse_probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err("a probability is a number from 0 to 1".to_string()),
    }
}

impl RunArgs {
    /// Checks what the parser cannot check alone: options that do not go
    /// together. An error here is a usage error.
    pub fn check(&self) -> Result<(), String> {
        if self
            .rows
            .checked_mul(self.cols)
            .is_none_or(|n| n > MAX_TILES)
        {
            return Err(format!(
                "--rows {} --cols {} is more than {MAX_TILES} tiles, each an itcd with a mount of its own",
                self.rows, self.cols
            ));
        }
        if self.link == Link::Firmware && (self.loss > 0.0 || self.latency > 0) {
            return Err("--loss and --latency apply to --link packet only; with --link firmware use --corrupt (per bit) and --rate".into());
        }
        Ok(())
    }

    /// What the options make sure to go wrong, short of a usage error:
    /// links so slow or late that no hello arrives before its sender is
    /// declared absent.
    pub fn warnings(&self) -> Vec<String> {
        // A hello: header, service, version, name length, the longest
        // tile name, physics length, flags; on the wire four more bytes
        // (the emulator's serialisation time: the framing of the wires).
        let name = Geometry::name(self.rows.saturating_sub(1), self.cols.saturating_sub(1));
        let bits = ((6 + name.len() + 4) * 8) as f64;
        let mut secs = if self.rate == 0 {
            0.0
        } else {
            bits / self.rate as f64
        };
        if self.link == Link::Packet {
            secs += self.latency as f64 / 1e6;
        }
        let absent_ms = self.hello.saturating_mul(7) / 2;
        let mut out = Vec::new();
        if secs * 1000.0 >= absent_ms as f64 {
            out.push(format!(
                "a hello takes {secs:.3} s to cross a link, no less than the {absent_ms} ms of \
                 silence after which a neighbour is absent: no neighbour will stay present \
                 (raise --hello or --rate, or lower --latency)"
            ));
        }
        out
    }
}

/// A seed that differs from run to run: std's per-process random hash
/// keys (from the OS's random source), without a crate for it.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish()
}

/// `n` and the noun, singular for one: `1 tile`, `2 tiles`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The binary `name`: `explicit` if given, else next to tile-sim, else
/// from PATH; `option` is the option that gives it.
fn find_binary(name: &str, explicit: Option<PathBuf>, option: &str) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return Ok(p);
    }
    if let Ok(me) = std::env::current_exe() {
        let beside = me.with_file_name(name);
        if beside.is_file() {
            return Ok(beside);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "{name} not found next to tile-sim or in PATH (build them: cargo build --release; or pass {option})"
            )
        })
}

/// Writes `tile-sim: MESSAGE` to standard error, ignoring a failure: a
/// terminal that hung up fails every write (`EIO`), and `eprintln!` would
/// panic then, in the middle of stopping the grid.
pub fn note(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "tile-sim: {message}");
}

/// Runs the grid until SIGINT, SIGTERM or SIGHUP; `args` passed
/// [`RunArgs::check`].
pub fn run(args: RunArgs) -> Result<(), String> {
    // Dropped last, once nothing is mounted any more.
    let mut created = CreatedDirs::default();
    let itcd = find_binary("itcd", args.itcd.clone(), "--itcd")?;
    let files_bin = if args.files {
        Some(find_binary(
            "itc-files",
            args.itc_files.clone(),
            "--itc-files",
        )?)
    } else {
        None
    };
    if let Some(tree) = mounts::itc_tree_containing(&args.dir) {
        return Err(format!(
            "--dir {} is inside the itc tree that an itcd serves at {}, where no \
             directories can be created for the tiles; choose a directory outside it",
            args.dir.display(),
            tree.display()
        ));
    }
    created
        .create(&args.dir)
        .map_err(|e| format!("cannot create --dir {}: {e}", args.dir.display()))?;
    // Absolute paths, so that they work from any directory (NOTIFY_SOCKET).
    let dir = fs::canonicalize(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let sockets = dir.join(".sim");
    fs::create_dir_all(&sockets)
        .map_err(|e| format!("cannot create {}: {e}", sockets.display()))?;
    // Before anything else in DIR is touched: another tile-sim may own it.
    let mut control = Control::bind(&dir)?;
    let layout = match files_bin {
        Some(_) => {
            let layout = Layout::new(&sockets);
            layout.prepare()?;
            Some(layout)
        }
        None => None,
    };

    let geo = Geometry::new(args.rows, args.cols);
    let seed = args.seed.unwrap_or_else(random_seed);
    let params = LinkParams {
        rate_bps: args.rate,
        latency: Duration::from_micros(args.latency),
        loss: args.loss,
        corrupt: args.corrupt,
        seed,
        pru_batch: args.pru_batch == OnOff::On,
        ..LinkParams::default()
    };
    let mut wires = Wires::new(&sockets, params);
    let ids: Vec<TileId> = geo
        .tiles()
        .map(|(r, c)| wires.add_tile(&Geometry::name(r, c)))
        .collect();
    for (a, dir, b) in geo.links() {
        wires.connect(ids[geo.index(a)], dir, ids[geo.index(b)]);
    }
    let mut tiles = Vec::with_capacity(ids.len());
    for (id, (r, c)) in ids.iter().zip(geo.tiles()) {
        let name = Geometry::name(r, c);
        let mount = dir.join(&name);
        created
            .create(&mount)
            .map_err(|e| format!("cannot create the mount point {}: {e}", mount.display()))?;
        let mut itcd_args: Vec<OsString> = Vec::new();
        let mut arg = |k: &str, v: OsString| itcd_args.extend([k.into(), v]);
        arg("--pru0", wires.pru_socket(*id, Pru::Pru0).into());
        arg("--pru1", wires.pru_socket(*id, Pru::Pru1).into());
        arg("--mount", mount.clone().into());
        arg("--name", name.clone().into());
        arg("--hello-ms", args.hello.to_string().into());
        arg("--absent-ms", (args.hello * 7 / 2).to_string().into());
        arg("--log-level", args.log_level.clone().into());
        arg("--pru-batch", args.itcd_pru_batch.word().into());
        let launch = Launch {
            program: itcd.clone(),
            args: itcd_args,
        };
        let ready = sockets.join(format!("{name}.ready"));
        let itcd = Daemon::new(
            format!("itcd of {name}"),
            launch,
            ready,
            Some(mount.clone()),
        );
        let files = match (&files_bin, &layout) {
            (Some(bin), Some(layout)) => Some(files_daemon(bin, layout, &name, &mount, &args)),
            _ => None,
        };
        tiles.push(Tile {
            name,
            id: *id,
            mount,
            itcd,
            files,
        });
    }

    // Signals are read from a signalfd from here on; every thread started
    // later inherits the mask, and children get an empty one back.
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGINT);
    mask.add(Signal::SIGTERM);
    mask.add(Signal::SIGHUP);
    mask.add(Signal::SIGCHLD);
    mask.thread_block()
        .map_err(|e| format!("blocking signals: {e}"))?;
    let signals =
        SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).map_err(|e| format!("signalfd: {e}"))?;

    let sim = args
        .link
        .start(wires)
        .map_err(|e| format!("starting the {} emulation: {e}", args.link.noun()))?;
    let shared = Shared::new(State {
        tiles,
        sim,
        files: layout,
        stopping: false,
    });
    let started = shared
        .start_all()
        .and_then(|failed| control.serve(Arc::clone(&shared)).map(|()| failed));
    let failed = match started {
        Ok(failed) => failed,
        Err(e) => {
            shared.stop_all();
            drop(control);
            drop(shared);
            let _ = fs::remove_dir(&sockets);
            return Err(e);
        }
    };
    let total = shared.lock().tiles.len();
    if failed.len() == total {
        // Nothing to serve: staying in the foreground would only hang.
        let why: Vec<String> = failed.into_iter().map(|(_, why)| why).collect();
        shared.stop_all();
        drop(control);
        drop(shared);
        let _ = fs::remove_dir(&sockets);
        return Err(format!("no tile came up: {}", why.join("; ")));
    }
    for (name, why) in failed {
        note(&format!("{name} did not come up: {why}"));
    }
    print_table(&shared, &geo, &args, &dir, seed);

    let result = wait_for_stop(&signals, &shared);
    let tiles = shared.lock().tiles.len();
    note(&format!("stopping {}", count(tiles, "tile")));
    let began = std::time::Instant::now();
    let stopped = shared.stop_all();
    report_stop(&stopped, began.elapsed());
    // Ends the control thread, which holds the other reference to `shared`.
    drop(control);
    // The last reference: stops the wire emulation and removes its sockets.
    drop(shared);
    let _ = fs::remove_dir(&sockets);
    result
}

/// A tile's `itc-files`: its store, the grid's key and hooks, readiness
/// on `DIR/.sim/{tile}.files.ready`.
fn files_daemon(bin: &Path, layout: &Layout, name: &str, mount: &Path, args: &RunArgs) -> Daemon {
    let store = layout.store(name);
    let mut a: Vec<OsString> = Vec::new();
    let mut arg = |k: &str, v: OsString| a.extend([k.into(), v]);
    arg("--mount", mount.into());
    arg("--store", store.clone().into());
    arg("--keys", layout.keys().into());
    arg("--hooks", layout.hooks().into());
    arg("--log-level", args.log_level.clone().into());
    let launch = Launch {
        program: bin.to_owned(),
        args: a,
    };
    let ready = layout.sim.join(format!("{name}.files.ready"));
    Daemon::new(format!("itc-files of {name}"), launch, ready, None)
}

fn print_table(shared: &Shared, geo: &Geometry, args: &RunArgs, dir: &Path, seed: u64) {
    let state = shared.lock();
    if state.files.is_some() {
        println!("{:<8} {:>8} {:>8}  mount", "tile", "pid", "files");
    } else {
        println!("{:<8} {:>8}  mount", "tile", "pid");
    }
    for t in &state.tiles {
        let pid = t.pid().map_or_else(|| "-".to_string(), |p| p.to_string());
        match &t.files {
            Some(f) => {
                let fpid = f.pid().map_or_else(|| "-".to_string(), |p| p.to_string());
                println!(
                    "{:<8} {:>8} {:>8}  {}",
                    t.name,
                    pid,
                    fpid,
                    t.mount.display()
                );
            }
            None => println!("{:<8} {:>8}  {}", t.name, pid, t.mount.display()),
        }
    }
    println!(
        "{}, {}, rate {}, seed {seed}, PRU sockets in {}; Ctrl-C to stop",
        count(state.tiles.len(), "tile"),
        count(geo.links().count(), args.link.noun()),
        if args.rate == 0 {
            "unlimited".to_string()
        } else {
            format!("{} bit/s", args.rate)
        },
        dir.join(".sim").display()
    );
    if state.files.is_some() {
        println!(
            "files: stores in {}, key {}",
            dir.join(".sim/store").display(),
            dir.join(".sim/keys").display()
        );
    }
    println!("control: tile-sim ctl --dir {} list", dir.display());
}

/// Says how the daemons stopped: how many `itcd`s (and `itc-files`), how
/// long it took, and each one that did not exit 0. ("exited" is kept for
/// a daemon that died on its own.)
fn report_stop(stopped: &Stopped, took: Duration) {
    for (label, status) in &stopped.failed {
        note(&format!("the {label} stopped with {status}"));
    }
    let what = match stopped.files {
        0 => count(stopped.itcds, "itcd"),
        files => format!("{} and {files} itc-files", count(stopped.itcds, "itcd")),
    };
    let how = match (stopped.failed.len(), stopped.itcds + stopped.files) {
        (_, 0) => String::new(),
        (0, 1) => ", with exit status 0".to_string(),
        (0, _) => ", each with exit status 0".to_string(),
        (failed, _) => format!(", {failed} of them without exit status 0"),
    };
    note(&format!(
        "{what} stopped in {:.1} s{how}",
        took.as_secs_f64()
    ));
}

/// Reports daemons that die until SIGINT, SIGTERM or SIGHUP arrives.
fn wait_for_stop(signals: &SignalFd, shared: &Shared) -> Result<(), String> {
    loop {
        let info = match signals.read_signal() {
            Ok(Some(info)) => info,
            Ok(None) | Err(Errno::EINTR) => continue,
            Err(e) => return Err(format!("reading signals: {e}")),
        };
        if info.ssi_signo == Signal::SIGCHLD as u32 {
            for (label, status) in shared.reap() {
                note(&format!("{label} exited: {status}"));
            }
            continue;
        }
        return Ok(());
    }
}
