//! Service 2, echo: `itcd` answers each request from a present neighbour
//! with a reply carrying the same payload; replies (and any other echo
//! packet) go to the readers of `svc/02`, where `itc ping` waits for them.
//!
//! An echo packet that does not parse is dropped as malformed; a reply
//! that finds the outbound queue full is dropped as queue-full.

use super::service::{Context, Service};
use crate::stats::DropReason;
use crate::tile::config::Config;
use itc_proto::{Dir, EchoOp, EchoRepr, Packet, SVC_ECHO};

/// The echo service. It keeps no state.
#[derive(Debug)]
pub struct Echo;

impl Service for Echo {
    fn new(_cfg: &Config) -> Echo {
        Echo
    }

    fn number(&self) -> u8 {
        SVC_ECHO
    }

    fn on_packet(
        &mut self,
        ctx: &mut Context<'_>,
        dir: Dir,
        packet: Box<[u8]>,
    ) -> Option<Box<[u8]>> {
        let Ok(echo) = EchoRepr::parse(&Packet::new_unchecked(&packet[..])) else {
            ctx.drop_received(dir, DropReason::Malformed);
            return None;
        };
        if echo.op != EchoOp::Request {
            return Some(packet);
        }
        ctx.links.stats_mut(dir).rx_svc.count(packet.len());
        let reply = EchoRepr {
            op: EchoOp::Reply,
            payload: echo.payload,
        };
        let mut out = vec![0u8; reply.buffer_len()];
        match reply.emit(&mut out, dir) {
            Ok(n) => ctx.send(dir, out[..n].into()),
            Err(_) => ctx.links.drop_packet(dir, DropReason::Malformed),
        }
        None
    }
}
