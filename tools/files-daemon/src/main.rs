//! `itc-files`: the managed file service (service 8), one per tile.
//!
//! ```text
//! itc-files [--mount DIR] [--store DIR] [--keys DIR] [--hooks DIR]
//!           [--hook-timeout SECS] [--log-level LEVEL]
//! ```
//!
//! It spreads named, signed files to every tile of a grid, hop by hop,
//! newest version winning, and installs each atomically in `STORE/live/`;
//! `itc files` drives it through `STORE/control.sock`. It is a client of
//! `itcd`'s tree like any service (`MOUNT/itc/svc/08`), waits for the tree
//! when `itcd` is not up yet and rides out its restarts. SIGINT and SIGTERM
//! stop it (exit 0); SIGHUP reloads the trusted keys. Exit status 1 when it
//! cannot start (each error says what to check), 2 for bad usage.
//!
//! Where things are: setting up and the event loop in [`daemon`]; the
//! service's state and rules in [`node`], which owns the [`fetches`]
//! (transfers in progress), the [`announce`] schedule and the [`counters`];
//! answering requests in [`serve`]; writing messages in [`sender`]; hooks
//! in [`hooks`]; the control socket in [`control`] and the report it
//! serves in [`status`]; transfer rates in [`rate`]; timer tokens in
//! [`timers`]; raw descriptor calls in [`sys`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

mod announce;
mod control;
mod counters;
mod daemon;
mod fetches;
mod hooks;
mod node;
mod rate;
mod sender;
mod serve;
mod status;
mod sys;
mod timers;

#[derive(Debug, Parser)]
#[command(
    name = "itc-files",
    version,
    about = "Spread signed files to every tile of the grid, newest version winning"
)]
struct Args {
    /// Where itcd's tree is mounted [default: $ITC_MOUNT, else /run/itc]
    #[arg(long, value_name = "DIR")]
    mount: Option<PathBuf>,
    /// The store: live files, staging, records, the control socket
    /// [default: $ITC_STORE, else /var/lib/itc-files]
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// Trusted public keys (*.pub); SIGHUP reloads them
    #[arg(long, value_name = "DIR", default_value = "/etc/itc/keys")]
    keys: PathBuf,
    /// Hooks: HOOKS/NAME runs after a version of NAME goes live
    #[arg(long, value_name = "DIR", default_value = "/etc/itc/hooks")]
    hooks: PathBuf,
    /// Seconds a hook may run before it is killed
    #[arg(long, value_name = "SECS", default_value_t = hooks::DEFAULT_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    hook_timeout: u64,
    /// Log level or filter (error, warn, info, debug, trace; RUST_LOG wins)
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&args.log_level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let opts = daemon::Options {
        mount: args.mount.unwrap_or_else(itc_service::default_mount),
        store: args.store.unwrap_or_else(itc_files::control::default_store),
        keys: args.keys,
        hooks: args.hooks,
        hook_timeout: Duration::from_secs(args.hook_timeout),
    };
    match daemon::run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("itc-files: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Args::command().debug_assert();
    }
}
