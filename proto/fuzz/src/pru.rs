//! One message from a PRU, taken apart as `itcd` takes it: the header
//! first, then the message its header names (a link status, a bounce and
//! the packet it wraps, or a received routed packet's hello or echo).
//!
//! Every parser is tried on every message, not just the one the header
//! names, because a message handed to the wrong parser must be refused,
//! never misread: each parser may accept only its own header.

use itc_proto::{HeaderRepr, LocalType, RoutedHeader, SVC_ECHO, SVC_HELLO};

use crate::{check_bounce, check_echo, check_header, check_hello, check_link_status, check_tep};

/// Runs every parser's check on `msg` and checks that only the parser its
/// header names accepts it; a bounce's wrapped packet, which the host sent,
/// goes through the same checks.
pub fn check_pru_message(msg: &[u8]) {
    let header = check_header(msg);
    let service = match header {
        Some(HeaderRepr::Routed(RoutedHeader { service, .. })) => service,
        _ => None,
    };
    let local = match header {
        Some(HeaderRepr::Local(t)) => Some(t),
        _ => None,
    };
    if check_link_status(msg).is_some() {
        assert_eq!(local, Some(LocalType::LinkStatus), "link status misread");
    }
    if check_tep(msg).is_some() {
        assert_eq!(local, Some(LocalType::Tep), "TEP misread");
    }
    if check_hello(msg).is_some() {
        assert_eq!(service, Some(SVC_HELLO), "hello misread");
    }
    if check_echo(msg).is_some() {
        assert_eq!(service, Some(SVC_ECHO), "echo misread");
    }
    if let Some(bounce) = check_bounce(msg) {
        assert_eq!(local, Some(LocalType::Bounce), "bounce misread");
        check_pru_message(bounce.packet);
    }
}
