//! `tile-sim`: a grid of T2 tiles on one machine. The PRUs and the wires
//! are emulated (`itcio::sim`, or with `--link firmware` the firmware's
//! host build on wires simulated bit by bit, [`fw_links`]); every tile runs
//! the real `itcd`, mounted at `DIR/r{row}c{col}`. `tile-sim run` runs the
//! grid; `tile-sim ctl` controls a running one through its socket
//! `DIR/.sim/ctl`.
//!
//! Where things are: the command line here; the grid's geometry in
//! [`grid`]; the two link emulations behind one type in [`links`]; running
//! it and its signals in [`run`]; one tile's `itcd` process in [`tiles`]; the state both threads share in [`state`]; the
//! control protocol and server in [`ctl`], its client in [`client`];
//! mounts in [`mounts`]; raw system calls in [`sys`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod client;
mod ctl;
mod fw_links;
mod grid;
mod links;
mod mounts;
mod run;
mod state;
mod sys;
mod tiles;

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
    Run(run::RunArgs),
    /// Control a running grid: cut or restore a link, stop or start a
    /// tile's itcd, list the tiles, show a tile's firmware counters.
    #[command(after_help = CTL_HELP)]
    Ctl(CtlArgs),
}

const CTL_HELP: &str = "\
Commands:
  cut TILE D       cut the wire at TILE's direction D (ET SE SW WT NW NE)
  restore TILE D   reconnect it
  stop TILE        stop TILE's itcd (its tree is unmounted)
  start TILE       start it again and wait until its tree is served
  list             one line per tile: name, pid, state, mount, links
  firmware TILE    --link firmware: the firmware's counters of each of
                   TILE's wired directions (runts, crc_errors, ...)

Exit status: 0 done, 1 refused or failed, 2 no tile-sim running at DIR.";

#[derive(Debug, clap::Args)]
struct CtlArgs {
    /// The --dir of the running `tile-sim run`.
    #[arg(long)]
    dir: PathBuf,
    /// The command and its arguments.
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, value_name = "COMMAND")]
    command: Vec<String>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run(args) => match run::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tile-sim: {e}");
                ExitCode::FAILURE
            }
        },
        Cmd::Ctl(args) => client::run(&args.dir, &args.command),
    }
}
