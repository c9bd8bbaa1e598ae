//! `itc`: the command line for `itcd`'s tree, for people and scripts.
//!
//! ```text
//! itc [--mount DIR] status [--json | --watch [--interval SECS]]
//! itc [--mount DIR] send --dir D (--mfm | --svc NN) (--hex HEX | TEXT...) [--count N]
//! itc [--mount DIR] recv (--mfm | --svc NN) [--dir D] [--count N] [--timeout SECS] [--text] [--follow]
//! itc [--mount DIR] events [--dir D] [--no-follow]
//! itc [--mount DIR] ping D [-c N] [-i SECS] [-W SECS]
//! itc [--mount DIR] physics [ID]
//! itc [--mount DIR] capture [-w FILE] [--dir D] [--mfm | --svc NN] [-c N]
//! itc files [--store DIR] keygen|publish|delete|list|status|watch ...
//! itc completions SHELL
//! ```
//!
//! DIR defaults to `$ITC_MOUNT`, else `/run/itc`; `itc files` talks to the
//! `itc-files` daemon of a store instead (see [`cmd_files`]). Errors are one line on
//! stderr naming the file and what its errno means; they exit with status
//! 2, as do usage errors (`EXIT_HELP` lists every status; `itc --help`). SIGINT ends waits for a
//! packet file cleanly (see [`signals`]); elsewhere it kills `itc` as it
//! would `cat`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use itc_proto::Dir;

mod capture_line;
mod capture_pcapng;
mod cmd_capture;
mod cmd_events;
mod cmd_files;
mod cmd_physics;
mod cmd_ping;
mod cmd_recv;
mod cmd_send;
mod cmd_status;
mod cmd_watch;
mod completions;
mod decode;
mod errors;
mod files_show;
mod files_watch;
mod follow;
mod hex;
mod holders;
mod json;
mod output;
mod packet_file;
mod rtt;
mod show;
mod signals;
mod text_file;
mod tree;

use errors::Error;
use tree::{Kind, Tree};

#[derive(Debug, Parser)]
#[command(
    name = "itc",
    version,
    about = "Look at and use the T2 tile's intertile links through itcd's tree",
    after_long_help = EXIT_HELP
)]
struct Cli {
    /// Where itcd's tree is mounted [default: $ITC_MOUNT, else /run/itc]
    #[arg(long, global = true, value_name = "DIR")]
    mount: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

/// The exit statuses, as ping(8) and grep(1) have them: 1 is an answer
/// ("nothing came"), 2 is an error.
const EXIT_HELP: &str = "\
Exit status: 0 done; 1 when ping got no reply, or recv got fewer than
--count packets in time; 2 on errors and bad usage; 130 when send is
interrupted (SIGINT) before every packet went out.";

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Show link, neighbour and counters for the six directions.
    Status {
        /// Print one JSON object instead of a table.
        #[arg(long, conflicts_with = "watch")]
        json: bool,
        /// Show the table again every --interval, like watch(1), until
        /// Ctrl-C (or SIGTERM, SIGHUP).
        #[arg(long)]
        watch: bool,
        /// Seconds between tables with --watch (at least 0.1).
        #[arg(long, value_name = "SECS", default_value = "1", requires = "watch",
              value_parser = parse_interval)]
        interval: Duration,
    },
    /// Send one packet (or --count of them) to the neighbour at --dir.
    Send {
        /// The neighbour's direction (ET SE SW WT NW NE).
        #[arg(long, value_name = "D")]
        dir: Dir,
        #[command(flatten)]
        kind: KindArgs,
        /// Payload as hex digits; blanks are allowed ("de ad be ef");
        /// --hex '' sends the header alone.
        #[arg(long, value_name = "HEX", conflicts_with = "text")]
        hex: Option<String>,
        /// How many times to send the packet.
        #[arg(long, default_value_t = 1, value_name = "N")]
        count: u64,
        /// Payload as text; the words are joined by single spaces. A
        /// payload is required: TEXT, or --hex.
        #[arg(value_name = "TEXT")]
        text: Vec<String>,
    },
    /// Print packets as they arrive, one line each.
    Recv {
        #[command(flatten)]
        kind: KindArgs,
        /// Only packets from this direction (tile/<D>/...), else all
        /// (itc/...). Inbound routing prefers tile/<D>/... to itc/...:
        /// while this runs, packets from D no longer reach a program
        /// reading itc/... (an MFM engine on itc/mfm), and nothing tells
        /// that program; recv warns on stderr when it sees such a reader
        /// in /proc (only processes whose files you may inspect).
        #[arg(long, value_name = "D")]
        dir: Option<Dir>,
        /// Exit after this many data packets.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
        /// Give up after this many seconds (exit 1 if fewer than --count came).
        #[arg(long, value_name = "SECS", value_parser = parse_secs)]
        timeout: Option<Duration>,
        /// Show payloads as text rather than hex.
        #[arg(long)]
        text: bool,
        /// Go on when itcd restarts (wait until the tree is served again,
        /// saying so on stderr) and when a physics change makes an MFM
        /// file stale (reopen it), instead of failing.
        #[arg(long)]
        follow: bool,
    },
    /// Follow neighbour events (Connect, Disconnect) until interrupted,
    /// across itcd restarts (like ip monitor).
    Events {
        /// Only events of this direction.
        #[arg(long, value_name = "D")]
        dir: Option<Dir>,
        /// Fail (status 2) when itcd stops, instead of saying so on stderr,
        /// waiting until the tree is served again, and going on from its
        /// Connect events.
        #[arg(long)]
        no_follow: bool,
    },
    /// Measure round-trip times to a neighbour with the echo service.
    Ping {
        /// The neighbour's direction.
        #[arg(value_name = "D")]
        dir: Dir,
        /// Stop after N requests [default: until interrupted].
        #[arg(short = 'c', value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
        /// Seconds between requests.
        #[arg(short = 'i', value_name = "SECS", default_value = "1", value_parser = parse_secs)]
        interval: Duration,
        /// Seconds to wait for replies after the last request.
        #[arg(short = 'W', value_name = "SECS", default_value = "1", value_parser = parse_secs)]
        wait: Duration,
    },
    /// Show every packet the tile receives, sends or drops, one line
    /// each (like tcpdump), or write them as pcapng, until interrupted
    /// (SIGINT or SIGTERM).
    Capture {
        /// Write pcapng to FILE (`-` for standard output, e.g. for
        /// `wireshark -k -i -`) instead of lines.
        #[arg(short = 'w', value_name = "FILE")]
        write: Option<PathBuf>,
        /// Only packets from or to this direction.
        #[arg(long, value_name = "D")]
        dir: Option<Dir>,
        #[command(flatten)]
        kind: CaptureKind,
        /// Stop after N packets.
        #[arg(short = 'c', value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
    },
    /// Print this tile's physics id ("(none)" when empty), or set it to ID.
    Physics {
        /// The new physics id (empty to clear).
        #[arg(value_name = "ID")]
        id: Option<String>,
    },
    /// Managed files: keys, publish, delete, list, status, watch (through
    /// the itc-files daemon).
    Files {
        /// The daemon's store [default: $ITC_STORE, else /var/lib/itc-files]
        #[arg(long, global = true, value_name = "DIR")]
        store: Option<PathBuf>,
        #[command(subcommand)]
        cmd: cmd_files::FilesCmd,
    },
    /// Print the shell completion script for SHELL (the package installs
    /// bash's, zsh's and fish's).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// MFM or one service.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct KindArgs {
    /// MFM traffic.
    #[arg(long)]
    mfm: bool,
    /// Service NN (2..=63).
    #[arg(long, value_name = "NN", value_parser = tree::parse_service)]
    svc: Option<u8>,
}

/// MFM, one service, or all traffic.
#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
struct CaptureKind {
    /// Only MFM traffic.
    #[arg(long)]
    mfm: bool,
    /// Only service NN (1..=63).
    #[arg(long, value_name = "NN", value_parser = clap::value_parser!(u8).range(1..=63))]
    svc: Option<u8>,
}

impl CaptureKind {
    fn kind(&self) -> Option<Kind> {
        match (self.mfm, self.svc) {
            (_, Some(n)) => Some(Kind::Svc(n)),
            (true, None) => Some(Kind::Mfm),
            (false, None) => None,
        }
    }
}

impl KindArgs {
    fn kind(&self) -> Kind {
        match self.svc {
            Some(n) => Kind::Svc(n),
            None => Kind::Mfm,
        }
    }
}

/// The longest wait `itc` accepts, in seconds (about 31 years).
const MAX_SECS: f64 = 1e9;

/// Parses non-negative seconds, fractions allowed (`0.2`).
fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(0.0..=MAX_SECS).contains(&secs) {
        return Err(format!("`{text}` is not between 0 and {MAX_SECS} seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses the interval of `status --watch`: seconds, at least 0.1.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = parse_secs(text)?;
    if interval < cmd_watch::MIN_INTERVAL {
        return Err(format!("`{text}` is shorter than 0.1 seconds"));
    }
    Ok(interval)
}

fn run(cli: Cli) -> Result<u8, Error> {
    let tree = Tree::locate(cli.mount);
    match cli.cmd {
        Cmd::Status {
            watch: true,
            interval,
            ..
        } => cmd_watch::run(&tree, interval),
        Cmd::Status { json, .. } => cmd_status::run(&tree, json),
        Cmd::Send {
            dir,
            kind,
            hex,
            count,
            text,
        } => {
            let payload = match hex {
                Some(h) => hex::parse(&h).map_err(|e| Error::Usage(format!("--hex: {e}")))?,
                // Forgetting the payload must not send a header-only
                // packet unasked: that takes `--hex ''` (or TEXT '').
                None if text.is_empty() => return Err(Error::Usage(
                    "send: no payload: give TEXT or --hex HEX (--hex '' sends the header alone)"
                        .to_string(),
                )),
                None => text.join(" ").into_bytes(),
            };
            cmd_send::run(&tree, dir, kind.kind(), &payload, count)
        }
        Cmd::Recv {
            kind,
            dir,
            count,
            timeout,
            text,
            follow,
        } => cmd_recv::run(
            &tree,
            cmd_recv::Options {
                kind: kind.kind(),
                scope: dir,
                count,
                timeout,
                text,
                follow,
            },
        ),
        Cmd::Events { dir, no_follow } => cmd_events::run(&tree, dir, !no_follow),
        Cmd::Ping {
            dir,
            count,
            interval,
            wait,
        } => cmd_ping::run(
            &tree,
            cmd_ping::Options {
                dir,
                count,
                interval,
                wait,
            },
        ),
        Cmd::Physics { id } => cmd_physics::run(&tree, id.as_deref()),
        Cmd::Capture {
            write,
            dir,
            kind,
            count,
        } => cmd_capture::run(
            &tree,
            cmd_capture::Options {
                write,
                dir,
                kind: kind.kind(),
                count,
            },
        ),
        Cmd::Files { store, cmd } => cmd_files::run(store, cmd),
        Cmd::Completions { shell } => {
            completions::print(shell, Cli::command());
            Ok(0)
        }
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

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_seconds() {
        assert_eq!(parse_secs("0.2"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_secs("3"), Ok(Duration::from_secs(3)));
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("NaN").is_err());
        assert!(parse_secs("inf").is_err());
        assert!(parse_secs("x").is_err());
    }

    #[test]
    fn send_needs_a_direction_and_one_kind() {
        assert!(Cli::try_parse_from(["itc", "send", "--svc", "20", "hi"]).is_err());
        assert!(Cli::try_parse_from(["itc", "send", "--dir", "ET", "hi"]).is_err());
        assert!(
            Cli::try_parse_from(["itc", "send", "--dir", "ET", "--mfm", "--svc", "20"]).is_err()
        );
        assert!(
            Cli::try_parse_from(["itc", "send", "--dir", "ET", "--mfm", "--hex", "00", "x"])
                .is_err()
        );
        let cli = Cli::try_parse_from([
            "itc", "--mount", "/m", "send", "--dir", "et", "--svc", "20", "a", "b",
        ])
        .unwrap();
        match cli.cmd {
            Cmd::Send {
                dir, kind, text, ..
            } => {
                assert_eq!(dir, Dir::ET);
                assert_eq!(kind.kind(), Kind::Svc(20));
                assert_eq!(text, ["a", "b"]);
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn files_takes_a_store_anywhere() {
        let cli = Cli::try_parse_from([
            "itc", "files", "publish", "f", "--key", "k", "--store", "/s",
        ])
        .unwrap();
        match cli.cmd {
            Cmd::Files { store, cmd } => {
                assert_eq!(store, Some(PathBuf::from("/s")));
                assert!(matches!(cmd, cmd_files::FilesCmd::Publish { .. }));
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["itc", "files", "publish", "f"]).is_err());
    }

    #[test]
    fn mount_is_global() {
        let cli = Cli::try_parse_from(["itc", "status", "--mount", "/x"]).unwrap();
        assert_eq!(cli.mount, Some(PathBuf::from("/x")));
    }
}
