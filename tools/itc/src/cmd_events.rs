//! `itc events [--dir D]`: follows `itc/events` or `tile/<D>/events` like
//! `ip monitor`, one line per event (see [`crate::show`]), until SIGINT,
//! which ends it quietly with status 0.
//!
//! The first lines are a Connect for each neighbour present when the file
//! was opened (the tree's snapshot), then events as they happen.

use std::time::SystemTime;

use itc_proto::Dir;
use itc_proto::MAX_PACKET_LEN;

use crate::decode::{decode, Item};
use crate::errors::Error;
use crate::packet_file::{Access, PacketFile, Wait};
use crate::tree::Tree;
use crate::{hex, output, show};

/// Runs `itc events`.
pub fn run(tree: &Tree, scope: Option<Dir>) -> Result<u8, Error> {
    let path = tree.events(scope);
    let mut file = PacketFile::open(&path, tree.root(), Access::Read)?;
    let mut buf = [0u8; MAX_PACKET_LEN + 1];
    loop {
        let n = match file.recv(&mut buf, None)? {
            Wait::Done(n) => n,
            Wait::TimedOut | Wait::Interrupted => return Ok(0),
        };
        let time = show::timestamp(SystemTime::now());
        let line = match decode(&buf[..n], scope) {
            Item::Event { event, dir } => show::event_line(&time, event, dir),
            // Events files carry only TEPs; show anything else raw.
            Item::Data { .. } | Item::Other(_) => {
                format!("{time} -- other {}", hex::dump(&buf[..n]))
            }
        };
        output::line(&line)?;
    }
}
