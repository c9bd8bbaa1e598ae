//! `itc send --dir D (--mfm | --svc NN) (--hex HEX | TEXT...) [--count N]`:
//! one packet, written with one `write()` to `tile/<D>/mfm` or
//! `tile/<D>/svc/NN`, `count` times; more than one go many per `write()`
//! through the file's batched twin (`tile/<D>/batch/...`). A payload is
//! required; `--hex ''` sends the header alone.
//!
//! The header is built here (`0xa0|dir8` for MFM, `0x80|dir8` and the
//! service byte for a service); the tree checks the rest (length,
//! neighbour present) and its errors are reported as they come.

use itc_proto::batch::push_item;
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
    let mut item = Vec::new();
    if count > 1 && push_item(&mut item, &packet) {
        let twin = tree.batch_packet_file(kind, Some(dir));
        let file = PacketFile::open_twin(&path, &twin, tree.root(), Access::Write)?;
        return send_batched(file, &item, count);
    }
    let mut file = PacketFile::open(&path, tree.root(), Access::Write)?;
    for _ in 0..count {
        match file.send(&packet)? {
            Wait::Done(()) => {}
            Wait::TimedOut | Wait::Interrupted => return Ok(EXIT_INTERRUPTED),
        }
    }
    Ok(0)
}

/// Bytes of items per `write()` of a batched file: what always arrives
/// in `itcd` whole.
const BATCH_WRITE: usize = 4096;

/// Sends `item` (one framed packet) `count` times, as many per `write()`
/// as fit in [`BATCH_WRITE`] bytes; a short write goes on from the first
/// item not taken.
fn send_batched(mut file: PacketFile, item: &[u8], count: u64) -> Result<u8, Error> {
    let per_write = (BATCH_WRITE / item.len()).max(1);
    let batch = item.repeat(per_write);
    let mut left = count;
    while left > 0 {
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(per_write);
        let mut chunk = &batch[..n * item.len()];
        while !chunk.is_empty() {
            match file.send_some(chunk)? {
                Wait::Done(taken) => chunk = &chunk[taken..],
                Wait::TimedOut | Wait::Interrupted => return Ok(EXIT_INTERRUPTED),
            }
        }
        left -= n as u64;
    }
    Ok(0)
}
