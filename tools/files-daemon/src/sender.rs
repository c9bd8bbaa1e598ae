//! Writing service-8 messages to neighbours through the service library,
//! with the two kinds of back-pressure the transfer rules ask for:
//!
//! - [`send`] queues a message to one neighbour (the library writes it now
//!   or when the tree has room) and reports false when it could not be
//!   queued: that direction's bounded queue is full, the neighbour went
//!   away, or the tree is gone. Callers drop what did not fit (a requester
//!   asks again; announces come again).
//! - [`send_request`] does not even queue while the tree pushes back on
//!   that direction (`EAGAIN`), so requests wait in the transfer, not in a
//!   queue, and count as outstanding only once written or about to be.

use itc_files::wire::{Message, MAX_MESSAGE_LEN};
use itc_service::{Dir, Service};

/// Queues `msg` to `dir`; false if it could not be queued.
pub fn send(svc: &mut Service, dir: Dir, msg: &Message<'_>) -> bool {
    let mut buf = [0u8; MAX_MESSAGE_LEN];
    let n = match msg.emit(&mut buf) {
        Ok(n) => n,
        Err(e) => {
            // Every message built here is valid; this is a bug, not input.
            tracing::error!("cannot encode a {:?}: {e}", msg.message_type());
            return false;
        }
    };
    match svc.send(dir, &buf[..n]) {
        Ok(()) => true,
        Err(e) => {
            tracing::trace!("{dir}: not sent: {e}");
            false
        }
    }
}

/// Queues the request `msg` to `dir` unless the tree is pushing back there.
pub fn send_request(svc: &mut Service, dir: Dir, msg: &Message<'_>) -> bool {
    !svc.is_blocked(dir) && send(svc, dir, msg)
}
