//! `itc recv (--mfm | --svc NN) [--dir D] [--count N] [--timeout SECS]
//! [--text] [--follow]`: packets as they arrive on `itc/...` or
//! `tile/<D>/...`, one line each (see [`crate::show`]), tile events
//! included. With `--follow` it waits through a restart of `itcd` and
//! reopens a file made stale by a physics change ([`crate::follow`]);
//! without, either is an error (status 2).
//!
//! Ends after `count` data packets (status 0), at the timeout or on
//! SIGINT (status 1 if fewer than `count` arrived, with `got N of COUNT
//! packets in SECS s` on standard error; else 0).

use std::time::{Duration, SystemTime};

use itc_proto::Dir;
use itc_proto::MAX_PACKET_LEN;

use crate::decode::{decode, Item};
use crate::errors::Error;
use crate::follow::Followed;
use crate::packet_file::{deadline_after, Access, Wait};
use crate::tree::{Kind, Tree};
use crate::{holders, output, show};

/// What `itc recv` was asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// MFM or a service.
    pub kind: Kind,
    /// `tile/<D>/...` rather than `itc/...`.
    pub scope: Option<Dir>,
    /// Data packets to wait for.
    pub count: Option<u64>,
    /// How long to wait in all.
    pub timeout: Option<Duration>,
    /// Payloads as text rather than hex.
    pub text: bool,
    /// Go on across `itcd` restarts and physics changes.
    pub follow: bool,
}

/// Runs `itc recv`.
pub fn run(tree: &Tree, opts: Options) -> Result<u8, Error> {
    let path = tree.packet_file(opts.kind, opts.scope);
    // More than one packet to read: many per read(), through the
    // batched twin of the file.
    let mut file = if opts.count == Some(1) {
        Followed::open(&path, tree.root(), Access::Read, opts.follow)?
    } else {
        let twin = tree.batch_packet_file(opts.kind, opts.scope);
        Followed::open_twin(&path, &twin, tree.root(), Access::Read, opts.follow)?
    };
    if let Some(dir) = opts.scope {
        holders::warn_if_shadowing(tree, opts.kind, dir);
    }
    let deadline = deadline_after(opts.timeout);
    // One byte more than a packet, so a longer one is noticed, not cut.
    let mut buf = [0u8; MAX_PACKET_LEN + 1];
    let mut got = 0u64;
    loop {
        if opts.count.is_some_and(|c| got >= c) {
            return Ok(0);
        }
        match file.recv(&mut buf, deadline)? {
            Wait::Done(n) => {
                let item = decode(&buf[..n], opts.scope);
                if matches!(item, Item::Data { .. }) {
                    got += 1;
                }
                let time = show::timestamp(SystemTime::now());
                output::line(&show::packet_line(&time, &item, opts.text))?;
            }
            end @ (Wait::TimedOut | Wait::Interrupted) => {
                let Some(count) = opts.count.filter(|&c| got < c) else {
                    return Ok(0);
                };
                // Status 1 alone would leave a person guessing.
                let why = match (end, opts.timeout) {
                    (Wait::TimedOut, Some(t)) => format!("in {} s", t.as_secs_f64()),
                    _ => "before SIGINT".to_string(),
                };
                output::note(&format!("got {got} of {count} packets {why}"));
                return Ok(1);
            }
        }
    }
}
