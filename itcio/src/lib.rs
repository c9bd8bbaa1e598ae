//! The T2 intertile core: link and neighbour
//! state, routing between the PRU links and the open files of the tree, and
//! the `itcd` daemon's event loop.
//!
//! Where things are: packets are parsed, and directions defined, in the
//! `itc-proto` crate; neighbour state in [`neighbour`]; bounded queues in [`queue`] and
//! [`channel`], both storing packets in a [`ring`]; the events readers'
//! shared log in [`event_log`]; the tile core (links, services, outbound queues, open
//! files, routing) in [`tile`]; the generated status files in [`text`];
//! the FUSE tree's backend, which only translates, in [`tree_backend`]; PRU
//! devices in [`pru`]; the event loop in [`daemon`].

pub mod channel;
pub mod daemon;
pub mod event_log;
pub mod neighbour;
pub mod pru;
pub mod queue;
pub mod ring;
pub mod stats;
mod sys;
pub mod text;
pub mod tile;
pub mod tree_backend;
