//! The one interface of every link model: how a grid's PRUs and wires are
//! emulated behind the PRU sockets, seen from whoever runs the grid.
//!
//! A model starts from a [`Wires`] ([`LinkModel::start`], or [`start`] for
//! a boxed one), runs on threads of its own until stopped, and answers the
//! requests here from any thread. Its sockets accept hosts as soon as
//! `start` returns; stopping (or dropping) it closes them and removes the
//! socket files. What a model emulates, and how faithfully, is its own
//! module's contract ([`crate::packet`], [`crate::firmware`]).
#![deny(unsafe_code)]

use std::fmt;

use itc_proto::Dir;

use crate::error::Error;
use crate::stats::SimStats;
use crate::wires::{TileId, Wires};

/// A running emulation of a grid's PRUs and wires.
pub trait LinkModel: Send + fmt::Debug {
    /// Checks `wires` ([`Wires::check`], and what the model cannot honour),
    /// binds every PRU socket and starts the model.
    fn start(wires: Wires) -> Result<Self, Error>
    where
        Self: Sized;

    /// The model's short name (`packet`, `firmware`), for messages.
    fn name(&self) -> &'static str;

    /// Cuts the wire at `tile`'s `dir`: both ends lose the clock, their
    /// hosts hear of it as the model's PRUs report it. Nothing if there is
    /// no wire there.
    fn cut(&self, tile: TileId, dir: Dir);

    /// Reconnects the wire at `tile`'s `dir`.
    fn restore(&self, tile: TileId, dir: Dir);

    /// The counters: which wires exist and which are up, and whatever else
    /// the model counts.
    fn stats(&self) -> SimStats;

    /// The firmware's counters of `tile`'s direction `dir`;
    /// [`Error::NoFirmware`] from a model that runs none.
    fn firmware_counters(&self, tile: TileId, dir: Dir) -> Result<FirmwareCounters, Error>;

    /// Stops the model, closes every socket and removes the socket files
    /// (as dropping it does).
    fn stop(self: Box<Self>);
}

/// Starts model `M` behind the trait: what a grid registers for each
/// `--link` name.
pub fn start<M: LinkModel + 'static>(wires: Wires) -> Result<Box<dyn LinkModel>, Error> {
    Ok(Box::new(M::start(wires)?))
}

/// One direction's firmware counters, by name, in the firmware's order;
/// shown as `name=value` words.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FirmwareCounters(pub Vec<(&'static str, u64)>);

impl fmt::Display for FirmwareCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name}={value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_as_words() {
        let c = FirmwareCounters(vec![("runts", 3), ("syncs", 1)]);
        assert_eq!(c.to_string(), "runts=3 syncs=1");
        assert_eq!(FirmwareCounters::default().to_string(), "");
    }

    #[test]
    fn the_trait_is_object_safe() {
        fn boxed(_: Option<Box<dyn LinkModel>>) {}
        boxed(None);
    }
}
