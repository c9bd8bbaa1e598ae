//! The T2 intertile core: the packet format, directions, link and neighbour
//! state, routing between the PRU links and the open files of the tree, and
//! the pieces of the `itcd` daemon.

pub mod dir;
pub mod sim;

pub use dir::{Dir, Pru};
