//! `itcd`: the T2 intertile daemon. Talks to the two PRUs and serves the
//! intertile tree over FUSE.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use fuse_fs::Ownership;
use itcio::daemon::{self, Options};
use itcio::tile::{Config, MAX_NAME_LEN, MAX_PHYSICS_LEN};

/// The T2 intertile daemon: links, neighbours and the /run/itc tree.
#[derive(Debug, Parser)]
#[command(name = "itcd", version)]
struct Cli {
    /// PRU 0 device (ET, SE, SW): rpmsg character device or seqpacket socket.
    #[arg(long, value_name = "PATH", default_value = "/dev/rpmsg_pru30")]
    pru0: PathBuf,
    /// PRU 1 device (WT, NW, NE).
    #[arg(long, value_name = "PATH", default_value = "/dev/rpmsg_pru31")]
    pru1: PathBuf,
    /// Where to mount the tree.
    #[arg(long, value_name = "DIR", default_value = "/run/itc")]
    mount: PathBuf,
    /// This tile's name, sent to neighbours (default, or if empty: the host name).
    #[arg(long)]
    name: Option<String>,
    /// Initial physics id (can be changed through itc/physics).
    #[arg(long, default_value = "")]
    physics: String,
    /// Group owning the tree (default: itc if it exists, else root).
    #[arg(long)]
    group: Option<String>,
    /// Mean interval between hellos, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    hello_ms: u64,
    /// Silence after which a neighbour is absent, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 3500)]
    absent_ms: u64,
    /// Bound of each outbound and reader queue, in bytes (at least 1; a
    /// packet longer than the bound is refused with EMSGSIZE).
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024, value_parser = parse_queue_bytes)]
    queue_bytes: usize,
    /// Log filter (error, warn, info, debug, trace, or a tracing directive).
    #[arg(long, default_value = "info")]
    log_level: String,
}

/// Parses `--queue-bytes`: a whole number of at least 1. A bound of 0
/// would refuse every packet (`EMSGSIZE`) while looking like a working
/// daemon; a bound below the largest packet (255 bytes) is allowed and
/// refuses only the longer packets, as documented.
fn parse_queue_bytes(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err(format!(
            "0 would refuse every packet (EMSGSIZE); give at least 1 \
             (the largest packet is {} bytes)",
            itc_proto::MAX_PACKET_LEN
        )),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a number of bytes: {e}")),
    }
}

fn resolve_group(name: Option<&str>) -> Result<u32, String> {
    use nix::unistd::Group;
    match name {
        Some(n) => match Group::from_name(n) {
            Ok(Some(g)) => Ok(g.gid.as_raw()),
            Ok(None) => n
                .parse::<u32>()
                .map_err(|_| format!("group {n:?} does not exist (create it, e.g. groupadd {n})")),
            Err(e) => Err(format!("looking up group {n:?}: {e}")),
        },
        None => Ok(Group::from_name("itc")
            .ok()
            .flatten()
            .map_or(0, |g| g.gid.as_raw())),
    }
}

/// The log filter for `--log-level`: a level, or tracing directives. A bare
/// word that is not a level would be taken for a module to trace, hiding
/// everything else, so a typo (`--log-level inof`) is refused instead.
fn log_filter(level: &str) -> Result<tracing_subscriber::EnvFilter, String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    for directive in level.split(',') {
        let bare = !directive.contains(['=', '[']);
        if bare && !LEVELS.contains(&directive.trim().to_ascii_lowercase().as_str()) {
            return Err(format!("{directive:?} is not a level"));
        }
    }
    // polyfuse warns about every FUSE opcode newer than it knows (they are
    // answered ENOSYS and the kernel falls back): keep that out of the log.
    tracing_subscriber::EnvFilter::try_new(format!("{level},polyfuse=error"))
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match log_filter(&cli.log_level) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "itcd: --log-level {:?}: {e} (use off, error, warn, info, debug, trace, \
                 or directives such as info,itcio::tile=debug)",
                cli.log_level
            );
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // A log line that cannot be written is lost, nothing more: the
        // fallback would report it with `eprintln!`, which panics when
        // stderr is a terminal that hung up (SIGHUP's farewell line).
        .log_internal_errors(false)
        .init();

    // An empty --name counts as none, so a unit can always pass --name=$VAR.
    let name = cli.name.filter(|n| !n.is_empty()).unwrap_or_else(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default()
    });
    if name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        eprintln!(
            "itcd: --name must be at most {MAX_NAME_LEN} bytes without control characters (got {:?})",
            name
        );
        return ExitCode::from(2);
    }
    if cli.physics.len() > MAX_PHYSICS_LEN || cli.physics.chars().any(char::is_control) {
        eprintln!(
            "itcd: --physics must be at most {MAX_PHYSICS_LEN} bytes without control characters"
        );
        return ExitCode::from(2);
    }
    if cli.hello_ms == 0 || cli.absent_ms <= cli.hello_ms {
        eprintln!("itcd: need 0 < --hello-ms < --absent-ms");
        return ExitCode::from(2);
    }
    let gid = match resolve_group(cli.group.as_deref()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("itcd: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = Options {
        pru: [cli.pru0, cli.pru1],
        mount: cli.mount,
        // Root on a tile; a grid run by a user (through fusermount3) is
        // that user's, or they could not use their own tree.
        owner: Ownership {
            uid: nix::unistd::geteuid().as_raw(),
            gid,
        },
        tile: Config {
            name,
            physics: cli.physics,
            hello_interval: Duration::from_millis(cli.hello_ms),
            absent_after: Duration::from_millis(cli.absent_ms),
            out_queue_limit: cli.queue_bytes,
            reader_queue_limit: cli.queue_bytes,
        },
    };
    match daemon::run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("itcd: {e}");
            ExitCode::FAILURE
        }
    }
}
