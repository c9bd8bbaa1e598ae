//! The set of present neighbours, as the in-band Connect and Disconnect
//! events of the packet file report them. No I/O.
//!
//! A Connect for a direction already present, or a Disconnect for one
//! already absent, changes nothing and says so, so that the caller reports
//! each change exactly once.

use itc_proto::Dir;

/// Which of the six directions have a present neighbour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Neighbours {
    present: [bool; 6],
}

impl Neighbours {
    /// No neighbours.
    pub const fn new() -> Neighbours {
        Neighbours {
            present: [false; 6],
        }
    }

    /// Marks `dir` present; true if it was absent.
    pub fn connect(&mut self, dir: Dir) -> bool {
        !std::mem::replace(&mut self.present[dir.index()], true)
    }

    /// Marks `dir` absent; true if it was present.
    pub fn disconnect(&mut self, dir: Dir) -> bool {
        std::mem::replace(&mut self.present[dir.index()], false)
    }

    /// Whether a neighbour is present at `dir`.
    pub fn contains(&self, dir: Dir) -> bool {
        self.present[dir.index()]
    }

    /// The present directions, in [`Dir::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = Dir> + '_ {
        Dir::ALL.into_iter().filter(|d| self.contains(*d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_is_reported_once() {
        let mut n = Neighbours::new();
        assert_eq!(n.iter().count(), 0);
        assert!(n.connect(Dir::WT));
        assert!(!n.connect(Dir::WT));
        assert!(n.connect(Dir::ET));
        assert_eq!(n.iter().collect::<Vec<_>>(), [Dir::ET, Dir::WT]);
        assert!(n.disconnect(Dir::WT));
        assert!(!n.disconnect(Dir::WT));
        assert!(!n.disconnect(Dir::NE));
        assert!(n.contains(Dir::ET) && !n.contains(Dir::WT));
    }
}
