//! Grid geometry (`docs/reference.md`): tiles named `r{row}c{col}`, rows
//! offset like a hex grid (odd rows shifted half a tile east), and the links
//! between neighbours.

use crate::Dir;

/// A rectangle of tiles.
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    rows: usize,
    cols: usize,
}

impl Geometry {
    /// `rows` x `cols` tiles.
    pub fn new(rows: usize, cols: usize) -> Geometry {
        Geometry { rows, cols }
    }

    /// The name of the tile at (row, col).
    pub fn name(row: usize, col: usize) -> String {
        format!("r{row}c{col}")
    }

    /// Every tile, row by row.
    pub fn tiles(&self) -> impl Iterator<Item = (usize, usize)> {
        let cols = self.cols;
        (0..self.rows).flat_map(move |r| (0..cols).map(move |c| (r, c)))
    }

    /// Index of a tile in [`Geometry::tiles`] order.
    pub fn index(&self, (r, c): (usize, usize)) -> usize {
        r * self.cols + c
    }

    /// The tile in direction `dir` of (row, col), if inside the grid.
    pub fn neighbour(&self, (r, c): (usize, usize), dir: Dir) -> Option<(usize, usize)> {
        let (r, c) = (r as isize, c as isize);
        let even = r % 2 == 0;
        let (dr, dc) = match dir {
            Dir::ET => (0, 1),
            Dir::WT => (0, -1),
            Dir::NE => (-1, if even { 0 } else { 1 }),
            Dir::NW => (-1, if even { -1 } else { 0 }),
            Dir::SE => (1, if even { 0 } else { 1 }),
            Dir::SW => (1, if even { -1 } else { 0 }),
        };
        let (nr, nc) = (r + dr, c + dc);
        let inside = nr >= 0 && nc >= 0 && (nr as usize) < self.rows && (nc as usize) < self.cols;
        inside.then_some((nr as usize, nc as usize))
    }

    /// Every link once, as (tile, direction, neighbour).
    pub fn links(&self) -> impl Iterator<Item = ((usize, usize), Dir, (usize, usize))> + '_ {
        self.tiles().flat_map(move |t| {
            [Dir::ET, Dir::SE, Dir::SW]
                .into_iter()
                .filter_map(move |d| self.neighbour(t, d).map(|n| (t, d, n)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opposite_directions_lead_back() {
        let g = Geometry::new(4, 5);
        for t in g.tiles() {
            for d in Dir::ALL {
                if let Some(n) = g.neighbour(t, d) {
                    assert_eq!(g.neighbour(n, d.opposite()), Some(t), "{t:?} {d}");
                }
            }
        }
    }

    #[test]
    fn spec_examples() {
        let g = Geometry::new(3, 3);
        assert_eq!(g.neighbour((0, 1), Dir::SE), Some((1, 1)));
        assert_eq!(g.neighbour((0, 1), Dir::SW), Some((1, 0)));
        assert_eq!(g.neighbour((1, 1), Dir::NE), Some((0, 2)));
        assert_eq!(g.neighbour((1, 1), Dir::NW), Some((0, 1)));
        assert_eq!(g.neighbour((1, 1), Dir::SE), Some((2, 2)));
        assert_eq!(g.neighbour((0, 0), Dir::NW), None);
    }

    #[test]
    fn each_link_listed_once() {
        let g = Geometry::new(2, 2);
        // r0c0-r0c1, r1c0-r1c1 (ET); r0c0-r1c0 (SE), r0c1-r1c1 (SE), r0c1-r1c0 (SW).
        assert_eq!(g.links().count(), 5);
        let g = Geometry::new(3, 3);
        let mut pairs = std::collections::HashSet::new();
        for (a, _, b) in g.links() {
            assert!(pairs.insert((a.min(b), a.max(b))));
        }
    }
}
