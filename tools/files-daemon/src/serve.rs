//! Answering a neighbour's REQUEST: each chunk asked for comes back as one
//! DATA, from the manifest, a live file or a verified staged piece. A piece
//! not verified yet gets RETRY (the sender announced it missing, and it may
//! come soon), an unknown id ABORT 0x01 (0x02 when this tile dropped that
//! version for a newer one or a deletion), a chunk outside the object ABORT
//! 0x03; each of these ends the answer. What does not fit the outbound
//! queue is dropped and counted: the requester's time-out asks again, so no
//! queue grows without bound.

use std::collections::VecDeque;

use itc_files::wire::{AbortReason, Locator, Message, CHUNK_LEN};
use itc_files::{ServeError, ShortId, Store};
use itc_service::{Dir, Service};

use crate::counters::Counters;
use crate::sender::send;

/// What RETRY asks the requester to wait, in milliseconds: about the time
/// a 16 KiB piece takes on a 2.5 Mbit/s link, so the next try likely finds
/// the piece.
pub const RETRY_DELAY_MS: u16 = 100;

/// How many dropped transfers are remembered, to answer "superseded".
const SUPERSEDED_KEPT: usize = 64;

/// The short ids of transfers this tile dropped for a newer version or a
/// deletion, newest last, bounded.
#[derive(Debug, Default)]
pub struct Superseded {
    ids: VecDeque<ShortId>,
}

impl Superseded {
    /// Remembers `id`, forgetting the oldest beyond the bound.
    pub fn push(&mut self, id: ShortId) {
        if self.ids.len() >= SUPERSEDED_KEPT {
            self.ids.pop_front();
        }
        self.ids.push_back(id);
    }

    fn contains(&self, id: ShortId) -> bool {
        self.ids.contains(&id)
    }
}

/// Answers a REQUEST from `dir` for `count` chunks from `at`.
pub fn answer(
    store: &Store,
    superseded: &Superseded,
    svc: &mut Service,
    dir: Dir,
    at: Locator,
    count: u8,
    counters: &mut Counters,
) {
    let mut buf = [0u8; CHUNK_LEN];
    for k in 0..u32::from(count) {
        let at = Locator {
            offset: at.offset + k * CHUNK_LEN as u32,
            ..at
        };
        let msg = match store.read_chunk(&at, &mut buf) {
            Ok(n) => Message::Data {
                at,
                data: &buf[..n],
            },
            Err(ServeError::NotYet(_)) => Message::Retry {
                at,
                delay_ms: RETRY_DELAY_MS,
            },
            Err(ServeError::Unknown(id)) => Message::Abort {
                id,
                reason: if superseded.contains(id) {
                    AbortReason::Superseded
                } else {
                    AbortReason::Unknown
                },
            },
            Err(ServeError::OutOfRange) => Message::Abort {
                id: at.id,
                reason: AbortReason::OutOfRange,
            },
            Err(ServeError::Store(e)) => {
                counters.serve_failed += 1;
                tracing::warn!("serving {dir}: {e}");
                return;
            }
        };
        let is_data = matches!(msg, Message::Data { .. });
        if !send(svc, dir, &msg) {
            counters.serve_dropped += 1;
            return;
        }
        if !is_data {
            return;
        }
        counters.chunks_served += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn superseded_ids_are_bounded() {
        let mut s = Superseded::default();
        for i in 0..200u8 {
            s.push(ShortId([i; 8]));
        }
        assert_eq!(s.ids.len(), SUPERSEDED_KEPT);
        assert!(s.contains(ShortId([199; 8])));
        assert!(!s.contains(ShortId([0; 8])));
    }
}
