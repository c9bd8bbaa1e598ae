//! `greet`: the smallest useful service. On service 20 (an application
//! number), it greets every neighbour that connects with its name, answers
//! every greeting with its own, and prints one line for everything it sees:
//!
//! ```text
//! ET: connected
//! ET: greeting from r0c1
//! ET: r0c1 answered
//! ET: disconnected
//! ```
//!
//! Messages are one byte, `G` (greeting) or `A` (answer), then the name.
//! Run one per tile: `greet --mount DIR --name NAME`. It waits for the tree
//! if `itcd` is not running yet and rides out its restarts. SIGINT or
//! SIGTERM end it; `RUST_LOG=debug` shows what the library does.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use itc_service::{Config, Dir, Handler, Service};

#[derive(Parser)]
struct Args {
    /// The tree's mount point [default: $ITC_MOUNT, else /run/itc].
    #[arg(long)]
    mount: Option<PathBuf>,
    /// The name to greet with.
    #[arg(long)]
    name: String,
    /// The service number.
    #[arg(long, default_value_t = 20)]
    service: u8,
}

struct Greeter {
    name: Vec<u8>,
}

impl Greeter {
    fn say(&self, svc: &mut Service, dir: Dir, kind: u8) {
        let msg = [&[kind][..], &self.name].concat();
        if let Err(e) = svc.send(dir, &msg) {
            eprintln!("greet: {e}");
        }
    }
}

impl Handler for Greeter {
    fn on_connect(&mut self, svc: &mut Service, dir: Dir) {
        println!("{dir}: connected");
        self.say(svc, dir, b'G');
    }

    fn on_disconnect(&mut self, _svc: &mut Service, dir: Dir) {
        println!("{dir}: disconnected");
    }

    fn on_packet(&mut self, svc: &mut Service, dir: Dir, payload: &[u8]) {
        let name = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match payload.split_first() {
            Some((b'G', from)) => {
                println!("{dir}: greeting from {}", name(from));
                self.say(svc, dir, b'A');
            }
            Some((b'A', from)) => println!("{dir}: {} answered", name(from)),
            _ => println!("{dir}: {} bytes of something else", payload.len()),
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Warnings (the tree going away) by default; RUST_LOG=debug for more.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let mut config = Config::new(args.service).wait_for_tree(true);
    if let Some(mount) = args.mount {
        config = config.mount(mount);
    }
    let mut greeter = Greeter {
        name: args.name.into_bytes(),
    };
    let result = Service::open(config).and_then(|mut svc| svc.run(&mut greeter));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("greet: {e}");
            ExitCode::FAILURE
        }
    }
}
