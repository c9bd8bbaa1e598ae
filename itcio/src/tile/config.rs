//! Settings of a tile, fixed for its lifetime (the physics id, which can
//! change, starts from here). Plain values, checked by whoever builds them
//! (`itcd` checks the name, physics id and intervals of its command line).

use std::time::Duration;

/// Settings of a tile.
#[derive(Debug, Clone)]
pub struct Config {
    /// This tile's name, sent in hellos.
    pub name: String,
    /// Initial physics id.
    pub physics: String,
    /// Mean time between hellos.
    pub hello_interval: Duration,
    /// Silence after which a neighbour is absent.
    pub absent_after: Duration,
    /// Bound of each outbound lane per direction, in bytes.
    pub out_queue_limit: usize,
    /// Bound of each reader's queue, in bytes.
    pub reader_queue_limit: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: String::new(),
            physics: String::new(),
            hello_interval: Duration::from_secs(1),
            absent_after: Duration::from_millis(3500),
            out_queue_limit: 16 * 1024,
            reader_queue_limit: 16 * 1024,
        }
    }
}
