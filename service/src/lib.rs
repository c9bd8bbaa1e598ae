//! `itc-service`: peer-to-peer services over the T2 intertile tree, in a
//! few dozen lines each.
//!
//! A service is a userspace daemon that talks to its neighbouring tiles
//! through the tree `itcd` mounts: one packet file, `MOUNT/itc/svc/NN`,
//! carries the service's packets in all six directions and, in-band, a
//! Connect or Disconnect for every neighbour that comes or goes. This crate
//! opens that file's batched twin, `MOUNT/itc/batch/svc/NN` (many packets
//! per read and per write; errors name the plain file), and turns it into
//! callbacks ([`Handler`]): a neighbour
//! connected, a packet arrived, a timer is due, a request got no reply, a
//! throttled direction has room again.
//!
//! What it takes care of:
//! - **Neighbours**: the set of present neighbours, from the Connects the
//!   file starts with and those that follow.
//! - **Back-pressure**: a bounded queue per direction ([`Config::queue_limit`],
//!   the throttling knob); a full tree queue (`EAGAIN`) keeps the packet
//!   until the file is writable; a full service queue refuses the send
//!   ([`Error::QueueFull`]) and calls [`Handler::on_room`] once it drained.
//! - **Timers and requests**: one-shot timers by token; requests keyed by
//!   the caller (at most one outstanding per key), retried with exponential
//!   back-off a bounded number of times ([`RetryPolicy`]).
//! - **Restarts of `itcd`**: when the tree goes away, every neighbour gets
//!   its Disconnect and the file is reopened on a backed-off timer; the
//!   service resumes when the tree is back.
//! - **Counters and tracing**: [`Stats`] (printable as `key: value` lines);
//!   `tracing` events at debug and trace level for every change.
//!
//! Every error names the packet file and says what the errno means there
//! ([`Error`]).
//!
//! Where things are: the service, its state and its event loop in
//! `service`; the callbacks in `handler`; the packet file, its place in
//! the event loop and the reopen back-off in `connection`; decoding reads
//! and building packets in `inbound`; the neighbour set in `neighbours`;
//! the per-direction queues in `outq`; timers in `timers`; requests and
//! their retry policy in `requests`; counters in `stats`; options in
//! `config`; errors in `error`.
//!
//! # Example
//!
//! An echo service on service 21: every packet goes back where it came
//! from.
//!
//! ```no_run
//! use itc_service::{Config, Dir, Handler, Service};
//!
//! struct Echo;
//!
//! impl Handler for Echo {
//!     fn on_connect(&mut self, _svc: &mut Service, dir: Dir) {
//!         println!("{dir}: connected");
//!     }
//!
//!     fn on_packet(&mut self, svc: &mut Service, dir: Dir, payload: &[u8]) {
//!         if let Err(e) = svc.send(dir, payload) {
//!             eprintln!("{e}");
//!         }
//!     }
//! }
//!
//! fn main() -> Result<(), itc_service::Error> {
//!     let mut svc = Service::open(Config::new(21).wait_for_tree(true))?;
//!     svc.run(&mut Echo)
//! }
//! ```
//!
//! `examples/greet.rs` is a complete service with a command line.
#![forbid(unsafe_code)]

mod config;
mod connection;
mod error;
mod handler;
mod inbound;
mod neighbours;
mod outq;
mod requests;
mod service;
mod stats;
mod timers;

pub use config::{default_mount, packet_file, Config, DEFAULT_MOUNT};
pub use error::Error;
pub use handler::Handler;
pub use itc_proto::Dir;
pub use requests::{Failure, Key, RetryPolicy};
pub use service::Service;
pub use stats::Stats;

/// The largest payload one packet carries: 255 bytes less the two-byte
/// header.
pub const MAX_PAYLOAD: usize = itc_proto::MAX_PACKET_LEN - 2;
