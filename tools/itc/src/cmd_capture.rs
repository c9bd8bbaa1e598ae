//! `itc capture [-w FILE] [--dir D] [--mfm | --svc N] [-c N]`: follows
//! `itc/capture` and prints one line per packet the tile received, sent
//! or dropped (see [`crate::capture_line`]), or writes pcapng (see
//! [`crate::capture_pcapng`]; `-w -` to standard output). SIGINT or
//! SIGTERM ends it with status 0 and the file complete; so does `-c N`
//! after N packets.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use itc_proto::capture::CaptureRecord;
use itc_proto::{Dir, HeaderRepr, Packet};

use crate::capture_pcapng::{Pcapng, WriteError};
use crate::errors::Error;
use crate::packet_file::{Access, PacketFile, Wait};
use crate::tree::{Kind, Tree};
use crate::{capture_line, output, signals};

/// What `itc capture` was asked for.
#[derive(Debug)]
pub struct Options {
    /// Write pcapng here (`-` for standard output) instead of lines.
    pub write: Option<PathBuf>,
    /// Only packets from or to this direction.
    pub dir: Option<Dir>,
    /// Only this traffic.
    pub kind: Option<Kind>,
    /// Stop after this many packets.
    pub count: Option<u64>,
}

/// Where records go.
enum Sink {
    Lines,
    Pcapng {
        out: Pcapng<Box<dyn Write>>,
        path: PathBuf,
    },
}

/// Whether a packet is of `kind`.
fn is_kind(packet: &[u8], kind: Kind) -> bool {
    let Ok(p) = Packet::new_checked(packet) else {
        return false;
    };
    match HeaderRepr::parse(&p) {
        Ok(HeaderRepr::Routed(h)) => match (kind, h.service) {
            (Kind::Mfm, None) => true,
            (Kind::Svc(n), Some(s)) => n == s,
            _ => false,
        },
        _ => false,
    }
}

fn output_error(path: &Path, e: WriteError) -> Error {
    let source = match e {
        pcap_file::PcapError::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    };
    if path == Path::new("-") && source.kind() == io::ErrorKind::BrokenPipe {
        return Error::StdoutClosed;
    }
    Error::Output {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs `itc capture`.
pub fn run(tree: &Tree, opts: Options) -> Result<u8, Error> {
    let mut sink = match &opts.write {
        None => Sink::Lines,
        Some(path) => {
            let w: Box<dyn Write> = if path == Path::new("-") {
                Box::new(io::stdout())
            } else {
                let f = File::create(path).map_err(|source| Error::Output {
                    path: path.clone(),
                    source,
                })?;
                Box::new(BufWriter::new(f))
            };
            let out = Pcapng::new(w).map_err(|e| output_error(path, e))?;
            Sink::Pcapng {
                out,
                path: path.clone(),
            }
        }
    };
    signals::handle_sigterm_too();
    let path = tree.capture();
    let mut file = PacketFile::open(&path, tree.root(), Access::Read)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut seen = 0u64;
    loop {
        if opts.count.is_some_and(|c| seen >= c) {
            return Ok(0);
        }
        let n = match file.recv(&mut buf, None)? {
            Wait::Done(n) => n,
            Wait::TimedOut | Wait::Interrupted => return Ok(0),
        };
        let mut at = 0;
        while at < n {
            let Ok((rec, len)) = CaptureRecord::parse(&buf[at..n]) else {
                return Err(Error::Malformed {
                    path,
                    what: format!("not a capture record at byte {at} of a read"),
                });
            };
            let raw = &buf[at..at + len];
            at += len;
            if let CaptureRecord::Packet { dir, packet, .. } = rec {
                if opts.dir.is_some_and(|d| d != dir)
                    || opts.kind.is_some_and(|k| !is_kind(packet, k))
                {
                    continue;
                }
                if opts.count.is_some_and(|c| seen >= c) {
                    break;
                }
                seen += 1;
            }
            match &mut sink {
                Sink::Lines => output::line(&capture_line::line(&rec))?,
                Sink::Pcapng { out, path } => {
                    out.record(&rec, raw).map_err(|e| output_error(path, e))?
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_filter_by_header() {
        assert!(is_kind(&[0xa2, 1], Kind::Mfm));
        assert!(!is_kind(&[0xa2, 1], Kind::Svc(2)));
        assert!(is_kind(&[0x82, 20, 1], Kind::Svc(20)));
        assert!(!is_kind(&[0x82, 20, 1], Kind::Svc(8)));
        assert!(!is_kind(&[], Kind::Mfm));
    }
}
