//! `itc events [--dir D] [--no-follow]`: follows `itc/events` or
//! `tile/<D>/events` like `ip monitor`, one line per event (see
//! [`crate::show`]), until SIGINT, which ends it quietly with status 0.
//!
//! The first lines are a Connect for each neighbour present when the file
//! was opened (the tree's snapshot), then events as they happen. When
//! `itcd` stops, it says so on standard error, waits for the tree to be
//! served again and goes on from the new tree's snapshot (see
//! [`crate::follow`]); with `--no-follow` the loss is an error (status 2).

use std::time::SystemTime;

use itc_proto::Dir;
use itc_proto::MAX_PACKET_LEN;

use crate::decode::{decode, Item};
use crate::errors::Error;
use crate::follow::Followed;
use crate::packet_file::{Access, Wait};
use crate::tree::Tree;
use crate::{hex, output, show};

/// Runs `itc events`.
pub fn run(tree: &Tree, scope: Option<Dir>, follow: bool) -> Result<u8, Error> {
    let path = tree.events(scope);
    let mut file = Followed::open(&path, tree.root(), Access::Read, follow)?;
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
