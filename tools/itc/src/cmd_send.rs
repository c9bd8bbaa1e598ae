//! `itc send --dir D (--mfm | --svc NN) (--hex HEX | TEXT...) [--count N]`:
//! one packet, written with one `write()` to `tile/<D>/mfm` or
//! `tile/<D>/svc/NN`, `count` times. A payload is required; `--hex ''`
//! sends the header alone.
//!
//! The header is built here (`0xa0|dir8` for MFM, `0x80|dir8` and the
//! service byte for a service); the tree checks the rest (length,
//! neighbour present) and its errors are reported as they come.

use itc_proto::Dir;

use crate::errors::Error;
use crate::packet_file::{Access, PacketFile, Wait};
use crate::tree::{Kind, Tree};

/// Exit status when SIGINT stops sending before `count` packets.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Runs `itc send`.
pub fn run(tree: &Tree, dir: Dir, kind: Kind, payload: &[u8], count: u64) -> Result<u8, Error> {
    let packet = kind
        .packet(dir, payload)
        .map_err(|e| Error::Usage(format!("cannot build the packet: {e}")))?;
    let path = tree.packet_file(kind, Some(dir));
    let mut file = PacketFile::open(&path, tree.root(), Access::Write)?;
    for _ in 0..count {
        match file.send(&packet)? {
            Wait::Done(()) => {}
            Wait::TimedOut | Wait::Interrupted => return Ok(EXIT_INTERRUPTED),
        }
    }
    Ok(0)
}
