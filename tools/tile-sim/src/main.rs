//! `tile-sim`: a grid of T2 tiles on one machine. The PRUs and the wires
//! are emulated (`itcio::sim`); every tile runs the real `itcd`, mounted at
//! `DIR/r{row}c{col}`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use itcio::sim::{LinkParams, TileId, Wires};
use itcio::Pru;
use nix::sys::signal::{SigSet, Signal};

mod grid;

use grid::Geometry;

#[derive(Debug, Parser)]
#[command(
    name = "tile-sim",
    version,
    about = "Run a grid of simulated T2 tiles, one real itcd each"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Build the grid, start one itcd per tile, and stay in the foreground
    /// until SIGINT or SIGTERM.
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Rows of tiles.
    #[arg(long, default_value_t = 2)]
    rows: usize,
    /// Columns of tiles.
    #[arg(long, default_value_t = 2)]
    cols: usize,
    /// Directory for the mounts (DIR/r{row}c{col}) and the emulated PRU
    /// sockets (DIR/.sim).
    #[arg(long)]
    dir: PathBuf,
    /// Link speed in bits per second; 0 is unlimited.
    #[arg(long, default_value_t = 2_500_000)]
    rate: u64,
    /// One-way link latency in microseconds.
    #[arg(long, default_value_t = 0)]
    latency: u64,
    /// Probability that a packet is lost on a wire.
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Probability that a packet arrives damaged (EROR set).
    #[arg(long, default_value_t = 0.0)]
    corrupt: f64,
    /// Hello interval of every itcd, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    hello: u64,
    /// The itcd binary (default: next to tile-sim, else from PATH).
    #[arg(long)]
    itcd: Option<PathBuf>,
    /// itcd log level (info shows links and neighbours coming and going).
    #[arg(long, default_value = "warn")]
    log_level: String,
}

struct Tile {
    name: String,
    mount: PathBuf,
    child: Option<Child>,
}

fn find_itcd(explicit: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return Ok(p);
    }
    if let Ok(me) = std::env::current_exe() {
        let beside = me.with_file_name("itcd");
        if beside.is_file() {
            return Ok(beside);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("itcd"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "itcd not found next to tile-sim or in PATH (build both: cargo build --release; or pass --itcd)"
                .to_string()
        })
}

fn wait_served(mount: &Path, deadline: Instant) -> bool {
    while Instant::now() < deadline {
        if fs::read_to_string(mount.join("itc/self")).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn run(args: RunArgs) -> Result<(), String> {
    if args.rows == 0 || args.cols == 0 {
        return Err("--rows and --cols must be at least 1".into());
    }
    if !(0.0..=1.0).contains(&args.loss) || !(0.0..=1.0).contains(&args.corrupt) {
        return Err("--loss and --corrupt are probabilities between 0 and 1".into());
    }
    let itcd = find_itcd(args.itcd.clone())?;
    let sockets = args.dir.join(".sim");
    fs::create_dir_all(&sockets).map_err(|e| format!("{}: {e}", sockets.display()))?;

    let geo = Geometry::new(args.rows, args.cols);
    let params = LinkParams {
        rate_bps: args.rate,
        latency: Duration::from_micros(args.latency),
        loss: args.loss,
        corrupt: args.corrupt,
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
    let socket_paths: Vec<[PathBuf; 2]> = ids
        .iter()
        .map(|id| {
            [
                wires.pru_socket(*id, Pru::Pru0),
                wires.pru_socket(*id, Pru::Pru1),
            ]
        })
        .collect();

    // Signals are handled synchronously from here on; children get the
    // default mask back (see spawn below).
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGINT);
    mask.add(Signal::SIGTERM);
    mask.add(Signal::SIGCHLD);
    mask.thread_block()
        .map_err(|e| format!("blocking signals: {e}"))?;

    let sim = wires
        .start()
        .map_err(|e| format!("starting the PRU emulation: {e}"))?;
    let mut tiles = Vec::new();
    for (i, (r, c)) in geo.tiles().enumerate() {
        let name = Geometry::name(r, c);
        let mount = args.dir.join(&name);
        fs::create_dir_all(&mount).map_err(|e| format!("{}: {e}", mount.display()))?;
        let mut cmd = Command::new(&itcd);
        cmd.arg("--pru0")
            .arg(&socket_paths[i][0])
            .arg("--pru1")
            .arg(&socket_paths[i][1])
            .arg("--mount")
            .arg(&mount)
            .arg("--name")
            .arg(&name)
            .arg("--hello-ms")
            .arg(args.hello.to_string())
            .arg("--absent-ms")
            .arg((args.hello * 7 / 2).to_string())
            .arg("--log-level")
            .arg(&args.log_level)
            .stdin(Stdio::null());
        unblock_in_child(&mut cmd);
        let child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", itcd.display()))?;
        tiles.push(Tile {
            name,
            mount,
            child: Some(child),
        });
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for t in &tiles {
        if !wait_served(&t.mount, deadline) {
            eprintln!(
                "tile-sim: {} did not come up at {}",
                t.name,
                t.mount.display()
            );
        }
    }
    println!("{:<8} {:>8}  mount", "tile", "pid");
    for t in &tiles {
        let pid = t.child.as_ref().map_or(0, |c| c.id());
        println!("{:<8} {:>8}  {}", t.name, pid, t.mount.display());
    }
    println!(
        "{} tiles, {} links, rate {}, PRU sockets in {}; Ctrl-C to stop",
        tiles.len(),
        geo.links().count(),
        if args.rate == 0 {
            "unlimited".to_string()
        } else {
            format!("{} bit/s", args.rate)
        },
        sockets.display()
    );

    loop {
        let sig = mask
            .wait()
            .map_err(|e| format!("waiting for signals: {e}"))?;
        if sig == Signal::SIGCHLD {
            for t in tiles.iter_mut() {
                if let Some(child) = t.child.as_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        eprintln!("tile-sim: itcd of {} exited: {status}", t.name);
                        t.child = None;
                    }
                }
            }
            continue;
        }
        break;
    }
    eprintln!("tile-sim: stopping {} tiles", tiles.len());
    for t in &tiles {
        if let Some(child) = &t.child {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                Signal::SIGTERM,
            );
        }
    }
    for t in tiles.iter_mut() {
        if let Some(mut child) = t.child.take() {
            let end = Instant::now() + Duration::from_secs(5);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < end => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    _ => {
                        eprintln!("tile-sim: {} did not stop; killing it", t.name);
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
    }
    sim.shutdown();
    let _ = fs::remove_dir(&sockets);
    Ok(())
}

/// Children start with signals unblocked.
fn unblock_in_child(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and only calls
    // sigprocmask, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let empty = SigSet::empty();
            nix::sys::signal::sigprocmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(&empty),
                None,
            )
            .map_err(std::io::Error::from)
        });
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Run(args) => run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tile-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
