//! `itc`: the command line for `itcd`'s tree, for people and scripts.
//!
//! ```text
//! itc [--mount DIR] status [--json]
//! itc [--mount DIR] physics [ID]
//! ```
//!
//! DIR defaults to `$ITC_MOUNT`, else `/run/itc`. Errors are one line on
//! stderr naming the file and what its errno means; they exit with status
//! 2, as do usage errors. SIGINT ends waits cleanly (see [`signals`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd_physics;
mod cmd_status;
mod decode;
mod errors;
mod hex;
mod json;
mod output;
mod packet_file;
mod show;
mod signals;
mod text_file;
mod tree;

use errors::Error;
use tree::Tree;

#[derive(Debug, Parser)]
#[command(
    name = "itc",
    version,
    about = "Look at and use the T2 tile's intertile links through itcd's tree"
)]
struct Cli {
    /// Where itcd's tree is mounted [default: $ITC_MOUNT, else /run/itc]
    #[arg(long, global = true, value_name = "DIR")]
    mount: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Show link, neighbour and counters for the six directions.
    Status {
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print this tile's physics id, or set it to ID.
    Physics {
        /// The new physics id (empty to clear).
        #[arg(value_name = "ID")]
        id: Option<String>,
    },
}

fn run(cli: Cli) -> Result<u8, Error> {
    let tree = Tree::locate(cli.mount);
    signals::install().map_err(Error::Signals)?;
    match cli.cmd {
        Cmd::Status { json } => cmd_status::run(&tree, json),
        Cmd::Physics { id } => cmd_physics::run(&tree, id.as_deref()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            if !e.is_quiet() {
                eprintln!("itc: {e}");
            }
            ExitCode::from(e.exit_status())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn mount_is_global() {
        let cli = Cli::try_parse_from(["itc", "status", "--mount", "/x"]).unwrap();
        assert_eq!(cli.mount, Some(PathBuf::from("/x")));
    }
}
