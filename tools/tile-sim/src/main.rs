//! `tile-sim`: a grid of T2 tiles on one machine. The PRUs and the wires
//! are emulated by a link model of `itc-emu` (whole packets, or with
//! `--link firmware` the firmware's host build on wires simulated bit by
//! bit); every tile runs the real `itcd`, mounted at `DIR/r{row}c{col}`.
//! `tile-sim run` runs the grid; `tile-sim ctl` controls a running one
//! through its socket `DIR/.sim/ctl`; `tile-sim view` draws it live in the
//! terminal and `tile-sim snapshot` as an SVG file.
//!
//! Where things are: the command line here; the grid's geometry in
//! `itc_proto::grid`; the link models a grid can run in [`link`]; running
//! it and its signals in [`run`]; one tile and its daemons in [`tiles`],
//! its processes in [`process`]; `--files` and its control requests in
//! [`files`]; the state both threads share in [`state`]; the control protocol and
//! server in [`ctl`], its client in [`client`]; mounts in [`mounts`]; raw
//! system calls in [`sys`]. The pictures: a running grid as plain values in
//! [`grid_model`], read by [`grid_read`] (the file service's part by
//! [`grid_files`]), drawn by [`view`] with
//! [`view_draw`] and by [`snapshot`]; shell completions in [`completions`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod client;
mod completions;
mod ctl;
mod files;
mod grid_files;
#[cfg(test)]
mod grid_fixtures;
mod grid_model;
mod grid_read;
mod link;
mod mounts;
mod process;
mod run;
mod snapshot;
mod state;
mod sys;
mod tiles;
mod view;
mod view_draw;

#[derive(Debug, Parser)]
#[command(
    name = "tile-sim",
    version,
    about = "Run a grid of simulated T2 tiles, one real itcd each",
    after_long_help = EXIT_HELP
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Build the grid, start one itcd per tile, and stay in the foreground
    /// until SIGINT, SIGTERM or SIGHUP.
    #[command(after_long_help = RUN_HELP)]
    Run(run::RunArgs),
    /// Control a running grid: cut or restore a link, stop or start a
    /// tile's itcd, list the tiles, show a tile's firmware counters.
    #[command(after_help = CTL_HELP)]
    Ctl(CtlArgs),
    /// Show a running grid live in the terminal: tiles, wires up or down,
    /// packet rates, drops; keys cut and restore wires, stop and start
    /// tiles.
    #[command(after_help = VIEW_HELP)]
    View(view::ViewArgs),
    /// Draw a running grid as `view` shows it, into an SVG file.
    Snapshot(snapshot::SnapshotArgs),
    /// Print the shell completion script for SHELL (the package installs
    /// bash's, zsh's and fish's).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

const VIEW_HELP: &str = "\
Keys: arrows or h j k l select a tile, Tab (Shift-Tab) its next (previous)
wire; c cuts that wire, r restores it; s stops the tile's itcd (and its
itc-files with run --files), t starts them; q or Ctrl-C quits.

Wires: `-- 12 --` up with 12 packets/s both ways, `\\ 12` and `12 /` the
same across rows; `down` no sync, `cut` cut by ctl (x across rows);
`nopeer` synced but no hellos (the far itcd is stopped); `~ phys ~`
incompatible physics; dots: neither end could be read.

Exit status: 0 quit, 1 failed, 2 no tile-sim running at DIR.";

const CTL_HELP: &str = "\
Commands:
  cut TILE D       cut the wire at TILE's direction D (ET SE SW WT NW NE)
  restore TILE D   reconnect it
  stop TILE        stop TILE's itcd (its tree is unmounted), and its
                   itc-files before it
  start TILE       start them again and wait until they serve
  list             one line per tile: name, pid, state, mount, links
                   (and with --files the pid of its itc-files)
  firmware TILE    --link firmware: the firmware's counters of each of
                   TILE's wired directions (runts, crc_errors, ...)
  publish TILE FILE [--name N]
                   --files: sign FILE with the grid's key and publish it
                   from TILE; every tile gets it in its store's live/
  delete TILE NAME --files: delete every version of NAME TILE knows
  files            --files: each tile's files: version and progress

Exit status: 0 done, 1 refused or failed, 2 no tile-sim running at DIR.";

const EXIT_HELP: &str = "\
Exit status: 0 done, 1 failed while running, 2 bad usage (as for every
option the parser rejects); `tile-sim ctl --help` for ctl's.";

const RUN_HELP: &str = "\
The table printed at start shows the seed of the links' random choices;
--seed with it makes the same choices again (per wire, in order).

Stopping removes the mount points it made (and DIR, if it made it)
once they are empty and unmounted; nothing that was there before. With
--files it keeps the stores and the grid's key in DIR/.sim, for a later
run --files on the same DIR to start from (remove DIR to start afresh).

Exit status: 0 stopped by SIGINT, SIGTERM or SIGHUP (its terminal
closing) with nothing left mounted, 1 failed while starting or running (also when no tile came up: every
itcd failed to serve its tree), 2 bad usage.";

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
        // No `eprintln!` fallback, which would panic on a terminal that
        // hung up (see `run::note`).
        .log_internal_errors(false)
        .init();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run(args) => {
            if let Err(e) = args.check() {
                usage_error("run", e);
            }
            for w in args.warnings() {
                run::note(&format!("warning: {w}"));
            }
            match run::run(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    run::note(&e);
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Ctl(args) => client::run(&args.dir, &args.command),
        Cmd::View(args) => view::run(args),
        Cmd::Snapshot(args) => snapshot::run(args),
        Cmd::Completions { shell } => {
            completions::print(shell, Cli::command());
            ExitCode::SUCCESS
        }
    }
}

/// Reports a usage error of subcommand `sub` the way the parser reports
/// its own (message, usage line) and exits 2.
fn usage_error(sub: &str, message: String) -> ! {
    let mut cli = Cli::command();
    // Gives the subcommand its full name ("tile-sim run") for the usage.
    cli.build();
    let cmd = cli
        .find_subcommand_mut(sub)
        .expect("usage_error names a subcommand");
    cmd.error(clap::error::ErrorKind::ArgumentConflict, message)
        .exit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
