//! Emulated T2 PRUs and the wires between tiles, for grids of simulated
//! tiles. Every PRU is a UNIX `SOCK_SEQPACKET` socket,
//! `{socket_dir}/{tile}.pru0` and `.pru1`, that `itcd --pru0 PATH --pru1
//! PATH` opens as it opens `/dev/rpmsg_pru30` and `/dev/rpmsg_pru31` on the
//! board: one message per packet, an empty message first to start the PRU.
//!
//! Where things are: the grid to emulate in [`wires`]; the host side of
//! each PRU socket, the same for every model, in `host_port` (raw socket
//! calls in [`seqpacket`]); the interface of every link model in [`model`];
//! the models in [`packet`] (whole packets: rate, latency, loss,
//! corruption) and [`firmware`] (the PRU firmware's host build on wires
//! simulated bit by bit); counters in [`stats`]; the one error type in
//! [`error`]; the one random generator in [`rng`].
//!
//! Adding a model is one module here implementing [`LinkModel`], started
//! through [`start`] by whoever lets users choose it.

pub mod error;
pub mod firmware;
mod host_port;
pub mod model;
pub mod packet;
pub mod rng;
pub mod seqpacket;
pub mod stats;
pub mod wires;

pub use error::Error;
pub use firmware::FirmwareModel;
pub use host_port::HOST_BACKLOG_PACKETS;
pub use model::{start, FirmwareCounters, LinkModel};
pub use packet::{PacketModel, WIRE_QUEUE_PACKETS};
pub use rng::Rng;
pub use stats::{LinkStats, PruStats, SimStats, TileStats};
pub use wires::{LinkParams, TileId, WireSpec, Wires};
