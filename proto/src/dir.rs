//! Directions: the eight compass points of the `dir8` encoding, the six that
//! exist on a T2 tile, their opposites, and which PRU drives each.
//!
//! | name | dir8 | opposite | PRU | prudir |
//! |------|------|----------|-----|--------|
//! | NT   | 0    | ST       | -   | -      |
//! | NE   | 1    | SW       | 1   | 2      |
//! | ET   | 2    | WT       | 0   | 0      |
//! | SE   | 3    | NW       | 0   | 1      |
//! | ST   | 4    | NT       | -   | -      |
//! | SW   | 5    | NE       | 0   | 2      |
//! | WT   | 6    | ET       | 1   | 0      |
//! | NW   | 7    | SE       | 1   | 1      |

use core::fmt;
use core::str::FromStr;

/// One of the six directions in which a T2 tile has a neighbour.
///
/// NT and ST exist in the `dir8` numbering but have no link on a T2 tile,
/// so they are not values of this type: [`Dir::from_dir8`] rejects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dir {
    /// North-east, dir8 1.
    NE,
    /// East, dir8 2.
    ET,
    /// South-east, dir8 3.
    SE,
    /// South-west, dir8 5.
    SW,
    /// West, dir8 6.
    WT,
    /// North-west, dir8 7.
    NW,
}

/// Which of the tile's two PRUs drives a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pru {
    /// PRU 0 (`/dev/rpmsg_pru30`): ET, SE, SW.
    Pru0,
    /// PRU 1 (`/dev/rpmsg_pru31`): WT, NW, NE.
    Pru1,
}

impl Pru {
    /// Both PRUs, in index order.
    pub const ALL: [Pru; 2] = [Pru::Pru0, Pru::Pru1];

    /// 0 or 1.
    pub const fn index(self) -> usize {
        match self {
            Pru::Pru0 => 0,
            Pru::Pru1 => 1,
        }
    }

    /// The three directions this PRU drives, in prudir order.
    pub const fn dirs(self) -> [Dir; 3] {
        match self {
            Pru::Pru0 => [Dir::ET, Dir::SE, Dir::SW],
            Pru::Pru1 => [Dir::WT, Dir::NW, Dir::NE],
        }
    }
}

/// The error for a direction name or number that is not one of the six.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadDir;

impl fmt::Display for BadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a T2 direction (expected one of ET SE SW WT NW NE)")
    }
}

impl std::error::Error for BadDir {}

impl Dir {
    /// The six directions in the order the tree and status tables list them.
    pub const ALL: [Dir; 6] = [Dir::ET, Dir::SE, Dir::SW, Dir::WT, Dir::NW, Dir::NE];

    /// The three-bit `dir8` code used in packet headers.
    pub const fn dir8(self) -> u8 {
        match self {
            Dir::NE => 1,
            Dir::ET => 2,
            Dir::SE => 3,
            Dir::SW => 5,
            Dir::WT => 6,
            Dir::NW => 7,
        }
    }

    /// The direction for a `dir8` code; NT (0), ST (4) and values above 7 are
    /// not T2 directions.
    pub const fn from_dir8(code: u8) -> Result<Dir, BadDir> {
        match code {
            1 => Ok(Dir::NE),
            2 => Ok(Dir::ET),
            3 => Ok(Dir::SE),
            5 => Ok(Dir::SW),
            6 => Ok(Dir::WT),
            7 => Ok(Dir::NW),
            _ => Err(BadDir),
        }
    }

    /// A dense index 0..6 (the position in [`Dir::ALL`]), for arrays.
    pub const fn index(self) -> usize {
        match self {
            Dir::ET => 0,
            Dir::SE => 1,
            Dir::SW => 2,
            Dir::WT => 3,
            Dir::NW => 4,
            Dir::NE => 5,
        }
    }

    /// The direction in which the neighbour sees this tile.
    pub const fn opposite(self) -> Dir {
        match self {
            Dir::NE => Dir::SW,
            Dir::ET => Dir::WT,
            Dir::SE => Dir::NW,
            Dir::SW => Dir::NE,
            Dir::WT => Dir::ET,
            Dir::NW => Dir::SE,
        }
    }

    /// The PRU that drives this direction.
    pub const fn pru(self) -> Pru {
        match self {
            Dir::ET | Dir::SE | Dir::SW => Pru::Pru0,
            Dir::WT | Dir::NW | Dir::NE => Pru::Pru1,
        }
    }

    /// The direction's index (0..3) on its PRU.
    pub const fn prudir(self) -> u8 {
        match self {
            Dir::ET | Dir::WT => 0,
            Dir::SE | Dir::NW => 1,
            Dir::SW | Dir::NE => 2,
        }
    }

    /// The two-letter name used in paths and tables.
    pub const fn name(self) -> &'static str {
        match self {
            Dir::NE => "NE",
            Dir::ET => "ET",
            Dir::SE => "SE",
            Dir::SW => "SW",
            Dir::WT => "WT",
            Dir::NW => "NW",
        }
    }
}

impl fmt::Display for Dir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dir {
    type Err = BadDir;

    /// Accepts the two-letter names in any case, or a dir8 digit.
    fn from_str(s: &str) -> Result<Dir, BadDir> {
        let upper = s.to_ascii_uppercase();
        if let Some(d) = Dir::ALL.iter().find(|d| d.name() == upper) {
            return Ok(*d);
        }
        match s.parse::<u8>() {
            Ok(code) => Dir::from_dir8(code),
            Err(_) => Err(BadDir),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir8_round_trips_and_rejects_nt_st() {
        for d in Dir::ALL {
            assert_eq!(Dir::from_dir8(d.dir8()), Ok(d));
        }
        assert_eq!(Dir::from_dir8(0), Err(BadDir));
        assert_eq!(Dir::from_dir8(4), Err(BadDir));
        assert_eq!(Dir::from_dir8(8), Err(BadDir));
    }

    #[test]
    fn opposite_is_an_involution_and_dir8_differs_by_four() {
        for d in Dir::ALL {
            assert_eq!(d.opposite().opposite(), d);
            assert_eq!((d.dir8() + 4) % 8, d.opposite().dir8());
        }
    }

    #[test]
    fn pru_table_matches_spec() {
        assert_eq!((Dir::NE.pru(), Dir::NE.prudir()), (Pru::Pru1, 2));
        assert_eq!((Dir::ET.pru(), Dir::ET.prudir()), (Pru::Pru0, 0));
        assert_eq!((Dir::SE.pru(), Dir::SE.prudir()), (Pru::Pru0, 1));
        assert_eq!((Dir::SW.pru(), Dir::SW.prudir()), (Pru::Pru0, 2));
        assert_eq!((Dir::WT.pru(), Dir::WT.prudir()), (Pru::Pru1, 0));
        assert_eq!((Dir::NW.pru(), Dir::NW.prudir()), (Pru::Pru1, 1));
        for p in Pru::ALL {
            for (i, d) in p.dirs().iter().enumerate() {
                assert_eq!(d.pru(), p);
                assert_eq!(d.prudir() as usize, i);
            }
        }
    }

    #[test]
    fn index_is_dense_and_matches_all() {
        for (i, d) in Dir::ALL.iter().enumerate() {
            assert_eq!(d.index(), i);
        }
    }

    #[test]
    fn parses_names_and_numbers() {
        assert_eq!("et".parse::<Dir>(), Ok(Dir::ET));
        assert_eq!("NW".parse::<Dir>(), Ok(Dir::NW));
        assert_eq!("5".parse::<Dir>(), Ok(Dir::SW));
        assert_eq!("NT".parse::<Dir>(), Err(BadDir));
        assert_eq!("4".parse::<Dir>(), Err(BadDir));
    }
}
