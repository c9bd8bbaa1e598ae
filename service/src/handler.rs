//! What a service does: the callbacks the event loop calls.
//!
//! Every callback gets the [`Service`] to act through (send, set timers,
//! start and complete requests). Callbacks run on the event loop's thread
//! and should not block. Only [`Handler::on_packet`] must be written; the
//! others do nothing by default.
//!
//! Order: a neighbour's Connect comes before any of its packets, and no
//! packet from it comes after its Disconnect until the next Connect (the
//! tree delivers events in order with the data). When the whole tree goes
//! away, every present neighbour gets its Disconnect, and the Connects come
//! again once the tree is back.

use itc_proto::Dir;

use crate::requests::{Failure, Key};
use crate::service::Service;

/// A service's behaviour. `K` is the key of its requests (see
/// [`Service::request`]); `()` for a service that makes none.
pub trait Handler<K: Key = ()> {
    /// A neighbour became present at `dir`.
    fn on_connect(&mut self, svc: &mut Service<K>, dir: Dir) {
        let _ = (svc, dir);
    }

    /// The neighbour at `dir` went away (or the tree did). Its queued
    /// packets are dropped and counted; its outstanding requests fail
    /// right after this call.
    fn on_disconnect(&mut self, svc: &mut Service<K>, dir: Dir) {
        let _ = (svc, dir);
    }

    /// A packet of this service arrived from `dir`; `payload` is what
    /// follows the two-byte header.
    fn on_packet(&mut self, svc: &mut Service<K>, dir: Dir, payload: &[u8]);

    /// The timer set with [`Service::set_timer`] for `token` is due.
    fn on_timer(&mut self, svc: &mut Service<K>, token: u64) {
        let _ = (svc, token);
    }

    /// The request `key` ended without a reply; it is no longer
    /// outstanding.
    fn on_request_failed(&mut self, svc: &mut Service<K>, key: K, failure: Failure) {
        let _ = (svc, key, failure);
    }

    /// `dir`'s queue refused a send (`QueueFull`) and has drained to half
    /// its bound: send again.
    fn on_room(&mut self, svc: &mut Service<K>, dir: Dir) {
        let _ = (svc, dir);
    }
}
