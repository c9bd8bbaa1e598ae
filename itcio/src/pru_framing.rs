//! How messages on one PRU device are framed: one packet per message, or
//! batched (several framed packets per message, up to rpmsg's 496 bytes),
//! as `itcd` and the firmware agree at start (`docs/pru-messages.md`,
//! "Batched messages").
//!
//! `itcd` offers batching (`0xc6 0x01`) just before its start message and
//! sends nothing else until the start's reply shows what the PRU agreed
//! to: a firmware that batches answers `0xc6 FLAGS` first; an older one
//! ignores the offer and its first reply is a link report, so messages
//! stay one per packet. The agreement is never inside a batch.

use itc_proto::pru_batch::{framing_bytes, parse_framing, BatchError, BatchItems, FRAMING_BATCHED};

/// Where the agreement stands on one open device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Framing {
    /// Offered, no reply yet: nothing is sent.
    Starting,
    /// One packet per message.
    #[default]
    Single,
    /// Several framed packets per message.
    Batched,
}

impl Framing {
    /// The word in status files.
    pub const fn name(self) -> &'static str {
        match self {
            Framing::Starting => "starting",
            Framing::Single => "single",
            Framing::Batched => "batched",
        }
    }
}

/// What one message from the PRU holds.
#[derive(Debug)]
pub enum Incoming<'a> {
    /// The PRU's answer to the offer (now in force).
    Agreed(Framing),
    /// One message, as without batching.
    One(&'a [u8]),
    /// The items of a valid batched message.
    Items(BatchItems<'a>),
    /// A batched message that is malformed (refused whole).
    Bad(BatchError),
}

/// The framing state of one open PRU device.
#[derive(Debug, Clone)]
pub struct PruFraming {
    offer: bool,
    state: Framing,
}

impl PruFraming {
    /// A device just opened; `offer`: ask the PRU for batched messages.
    pub fn new(offer: bool) -> PruFraming {
        PruFraming {
            offer,
            state: if offer {
                Framing::Starting
            } else {
                Framing::Single
            },
        }
    }

    /// The messages that start the device, in order: the offer (if any)
    /// and the empty start message.
    pub fn start_messages(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(2);
        if self.offer {
            out.push(framing_bytes(FRAMING_BATCHED).to_vec());
        }
        out.push(Vec::new());
        out
    }

    /// The agreement now.
    pub fn state(&self) -> Framing {
        self.state
    }

    /// Whether packets may be sent now.
    pub fn can_send(&self) -> bool {
        self.state != Framing::Starting
    }

    /// Takes one message from the PRU apart.
    pub fn on_message<'a>(&mut self, msg: &'a [u8]) -> Incoming<'a> {
        if self.state != Framing::Batched {
            if let Some(flags) = parse_framing(msg).filter(|_| self.offer) {
                self.state = if flags & FRAMING_BATCHED != 0 {
                    Framing::Batched
                } else {
                    Framing::Single
                };
                return Incoming::Agreed(self.state);
            }
            // The first reply of a PRU that did not answer the offer.
            self.state = Framing::Single;
            return Incoming::One(msg);
        }
        match BatchItems::parse(msg, true) {
            Ok(items) => Incoming::Items(items),
            Err(e) => Incoming::Bad(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agreeing_pru_switches_to_batches() {
        let mut f = PruFraming::new(true);
        assert_eq!(f.start_messages(), vec![vec![0xc6, 0x01], vec![]]);
        assert!(!f.can_send());
        assert!(matches!(
            f.on_message(&[0xc6, 0x01]),
            Incoming::Agreed(Framing::Batched)
        ));
        assert!(f.can_send());
        let Incoming::Items(items) = f.on_message(&[3, 0xc3, b'P', 2, 2, 0x82, 7]) else {
            panic!("not items");
        };
        assert_eq!(
            items.collect::<Vec<_>>(),
            vec![&[0xc3, b'P', 2][..], &[0x82, 7]]
        );
        assert!(matches!(
            f.on_message(&[3, 0xc3]),
            Incoming::Bad(BatchError::CutOff { .. })
        ));
    }

    #[test]
    fn an_old_pru_keeps_one_packet_per_message() {
        let mut f = PruFraming::new(true);
        assert!(matches!(f.on_message(&[0xc3, b'P', 2]), Incoming::One(_)));
        assert_eq!(f.state(), Framing::Single);
        assert!(f.can_send());
        // A refusal keeps single messages too.
        let mut f = PruFraming::new(true);
        assert!(matches!(
            f.on_message(&[0xc6, 0x00]),
            Incoming::Agreed(Framing::Single)
        ));
    }

    #[test]
    fn without_an_offer_a_framing_message_is_just_a_message() {
        let mut f = PruFraming::new(false);
        assert_eq!(f.start_messages(), vec![Vec::<u8>::new()]);
        assert!(f.can_send());
        assert!(matches!(f.on_message(&[0xc6, 0x01]), Incoming::One(_)));
        assert_eq!(f.state(), Framing::Single);
    }
}
