//! Grids made up for the drawing tests: every tile running, every wire up
//! with some traffic, as `ctl list` and the status files would give them.

use std::time::{Duration, Instant, SystemTime};

use itc_proto::grid::Geometry;
use itc_proto::Dir;

use crate::grid_model::{parse_list_line, EndStatus, Grid, Physics, Picture, Sample};

/// A `rows` x `cols` grid, every tile running and every wire up; the
/// counters grow with the tile's index and the direction.
pub fn grid(rows: usize, cols: usize) -> Grid {
    let g = Geometry::new(rows, cols);
    let listed: Vec<_> = g
        .tiles()
        .map(|pos| {
            let links: Vec<String> = Dir::ALL
                .iter()
                .filter(|d| g.neighbour(pos, **d).is_some())
                .map(|d| format!("{d}:up"))
                .collect();
            let name = Geometry::name(pos.0, pos.1);
            let line = format!(
                "{name} {} running /g/{name} {}",
                100 + g.index(pos),
                links.join(" ")
            );
            parse_list_line(&line).expect("a list line")
        })
        .collect();
    let mut grid = Grid::from_listed(&listed).expect("a grid");
    for (i, pos) in g.tiles().enumerate() {
        grid.tiles[i].physics_id = Some(String::new());
        for d in Dir::ALL {
            let Some(n) = g.neighbour(pos, d) else {
                continue;
            };
            let k = (i * 6 + d.index()) as u64;
            grid.tiles[i].ends[d.index()]
                .as_mut()
                .expect("wired")
                .status = Some(EndStatus {
                link_up: true,
                peer_present: true,
                peer_name: Geometry::name(n.0, n.1),
                physics: Physics::Compatible,
                rx_packets: 1000 + k,
                tx_packets: 2000 + k,
                drops: 0,
            });
        }
    }
    grid
}

/// Cuts the wire at `pos`'s `dir`, as `ctl cut` and both `itcd`s show it.
pub fn cut(grid: &mut Grid, pos: (usize, usize), dir: Dir) {
    let g = grid.geometry();
    let far = g.neighbour(pos, dir).expect("a wire there");
    for (p, d) in [(pos, dir), (far, dir.opposite())] {
        let end = grid.tiles[g.index(p)].ends[d.index()]
            .as_mut()
            .expect("wired");
        end.cut = true;
        let s = end.status.as_mut().expect("read");
        s.link_up = false;
        s.peer_present = false;
        s.peer_name.clear();
    }
}

/// Two samples of `grid` a second apart, the second with `per_sec` more
/// packets sent and received on every end: a picture with rates.
pub fn picture(grid: Grid, per_sec: u64) -> Picture {
    let t0 = Instant::now();
    let before = Sample {
        grid: grid.clone(),
        taken: t0,
        wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000),
    };
    let mut after = before.clone();
    after.taken = t0 + Duration::from_secs(1);
    for tile in &mut after.grid.tiles {
        for end in tile.ends.iter_mut().flatten() {
            if let Some(s) = end.status.as_mut() {
                s.rx_packets += per_sec;
                s.tx_packets += per_sec;
            }
        }
    }
    Picture::new(after, Some(&before))
}
