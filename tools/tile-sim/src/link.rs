//! `--link NAME`: the link models a grid can run, and how each is started.
//! Registering a model of `itc-emu` here is all it takes to offer it.

use itc_emu::{Error, FirmwareModel, LinkModel, PacketModel, Wires};

/// How the links between tiles are emulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Link {
    /// Packet level: rate, latency, loss, corruption.
    Packet,
    /// The PRU firmware built for the host, bit by bit on simulated wires.
    Firmware,
}

impl Link {
    /// Starts this model on `wires`.
    pub fn start(self, wires: Wires) -> Result<Box<dyn LinkModel>, Error> {
        match self {
            Link::Packet => itc_emu::start::<PacketModel>(wires),
            Link::Firmware => itc_emu::start::<FirmwareModel>(wires),
        }
    }

    /// What its links are called in the table printed at start.
    pub fn noun(self) -> &'static str {
        match self {
            Link::Packet => "packet link",
            Link::Firmware => "firmware link",
        }
    }
}
