//! Emulated T2 PRUs and the wires between tiles, for grids of simulated
//! tiles: each PRU is a UNIX seqpacket socket that `itcd` opens as it opens
//! an rpmsg device on the board.

pub mod packet;
pub mod seqpacket;

mod error;
mod rng;
mod stats;

pub use error::StartError;
pub use packet::{LinkParams, SimHandle, TileId, Wires, HOST_BACKLOG_PACKETS, WIRE_QUEUE_PACKETS};
pub use stats::{LinkStats, PruStats, SimStats, TileStats};
