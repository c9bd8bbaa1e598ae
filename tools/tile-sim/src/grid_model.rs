//! A running grid as plain values: what `tile-sim view` and `tile-sim
//! snapshot` draw. No I/O here ([`crate::grid_read`] fills these values
//! from the grid's control socket and its tiles' trees), and no drawing.
//!
//! A [`Sample`] is what one look at the grid found: per tile its `ctl list`
//! line (pid, state, which wires are cut) and, for a tile whose `itcd`
//! runs, each wired direction's `tile/<D>/status`. A [`Picture`] is a
//! sample with packet rates, the difference of the counters from the
//! sample before, and says what state each wire is in, seen from both of
//! its ends.
//!
//! Names, physics ids and file lines come from the grid and from hellos:
//! they are shown, never interpreted, and [`printable`] keeps control
//! characters out of the terminal.

use std::time::{Instant, SystemTime};

use itc_proto::grid::Geometry;
use itc_proto::Dir;

/// The states `ctl list` gives a tile.
pub const TILE_STATES: [&str; 4] = ["running", "stopped", "exited", "stopping"];

/// One line of `ctl list`: `NAME PID STATE MOUNT D:up ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The tile's name, `r{row}c{col}`.
    pub name: String,
    /// Its place in the grid.
    pub pos: (usize, usize),
    /// Its `itcd`'s pid, if one runs.
    pub pid: Option<u32>,
    /// `running`, `stopped`, `exited` or `stopping`.
    pub state: String,
    /// Per wired direction, whether its wire is cut.
    pub cut: [Option<bool>; 6],
}

/// `(row, col)` of a tile named `r{row}c{col}`.
pub fn parse_name(name: &str) -> Option<(usize, usize)> {
    let rest = name.strip_prefix('r')?;
    let (row, col) = rest.split_once('c')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(row) || !digits(col) {
        return None;
    }
    Some((row.parse().ok()?, col.parse().ok()?))
}

/// Parses one `ctl list` line. Words are classified rather than counted,
/// so a column added later (another pid) does not break it: the first word
/// is the name, the second the pid, a word of [`TILE_STATES`] the state,
/// and `D:up` or `D:down` a wire.
pub fn parse_list_line(line: &str) -> Result<Listed, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let bad = |why: &str| format!("unexpected `ctl list` line {line:?}: {why}");
    let name = *words.first().ok_or_else(|| bad("empty"))?;
    let pos = parse_name(name).ok_or_else(|| bad("the name is not r{row}c{col}"))?;
    let pid = words.get(1).and_then(|w| w.parse().ok());
    let state = words
        .iter()
        .skip(1)
        .find(|w| TILE_STATES.contains(w))
        .ok_or_else(|| bad("no state"))?;
    let mut cut = [None; 6];
    for word in &words[1..] {
        let Some((d, s)) = word.split_once(':') else {
            continue;
        };
        let Ok(dir) = d.parse::<Dir>() else {
            continue;
        };
        match s {
            "up" => cut[dir.index()] = Some(false),
            "down" => cut[dir.index()] = Some(true),
            _ => {}
        }
    }
    Ok(Listed {
        name: name.to_string(),
        pos,
        pid,
        state: state.to_string(),
        cut,
    })
}

/// What a tile says of its neighbour's physics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Physics {
    /// The same physics id as the tile's.
    Compatible,
    /// A different one: MFM packets are not passed.
    Incompatible,
    /// No neighbour, or it sent no physics id yet.
    Unknown,
}

impl Physics {
    /// From the `physics:` value of `tile/<D>/status`.
    pub fn from_word(word: &str) -> Physics {
        match word {
            "compatible" => Physics::Compatible,
            "incompatible" => Physics::Incompatible,
            _ => Physics::Unknown,
        }
    }

    /// A short word for tables.
    pub fn short(self) -> &'static str {
        match self {
            Physics::Compatible => "compat",
            Physics::Incompatible => "incompat",
            Physics::Unknown => "unknown",
        }
    }
}

/// One direction's `tile/<D>/status`, the parts that are drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndStatus {
    /// `link: up` (the PRU has sync).
    pub link_up: bool,
    /// `peer: present` (hellos arrive).
    pub peer_present: bool,
    /// `peer_name:`, as the file gives it (escaped to one line).
    pub peer_name: String,
    /// `physics:`.
    pub physics: Physics,
    /// MFM and service packets received.
    pub rx_packets: u64,
    /// MFM and service packets sent.
    pub tx_packets: u64,
    /// Every `drop_*` counter added up.
    pub drops: u64,
}

/// One end of a wire, at one tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End {
    /// `ctl list` shows the wire cut.
    pub cut: bool,
    /// The tile's status file, when its tree could be read.
    pub status: Option<EndStatus>,
}

/// One tile as a sample found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    /// `r{row}c{col}`.
    pub name: String,
    /// Its `itcd`'s pid, if one runs.
    pub pid: Option<u32>,
    /// `running`, `stopped`, `exited` or `stopping`.
    pub state: String,
    /// Its physics id (`itc/self`), when its tree could be read.
    pub physics_id: Option<String>,
    /// Per direction: the end of the wire there, `None` without a wire.
    pub ends: [Option<End>; 6],
    /// Why its tree could not be read, while its `itcd` runs.
    pub problem: Option<String>,
    /// The file service's lines for this tile (see [`Grid::files`]).
    pub files: Vec<String>,
}

impl Tile {
    /// A tile as `ctl list` shows it, before its tree is read.
    pub fn from_listed(listed: &Listed) -> Tile {
        Tile {
            name: listed.name.clone(),
            pid: listed.pid,
            state: listed.state.clone(),
            physics_id: None,
            ends: listed
                .cut
                .map(|cut| cut.map(|cut| End { cut, status: None })),
            problem: None,
            files: Vec::new(),
        }
    }

    /// Whether its `itcd` runs.
    pub fn running(&self) -> bool {
        self.state == "running"
    }

    /// Its wired directions, in [`Dir::ALL`] order.
    pub fn wired(&self) -> Vec<Dir> {
        Dir::ALL
            .into_iter()
            .filter(|d| self.ends[d.index()].is_some())
            .collect()
    }

    /// Every drop counter of every direction it could read, added up.
    pub fn drops(&self) -> u64 {
        self.ends
            .iter()
            .flatten()
            .filter_map(|e| e.status.as_ref())
            .map(|s| s.drops)
            .sum()
    }
}

/// The whole grid as one look found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    /// Rows of tiles.
    pub rows: usize,
    /// Columns of tiles.
    pub cols: usize,
    /// Every tile, in [`Geometry::tiles`] order.
    pub tiles: Vec<Tile>,
    /// Whether the grid answered `ctl files` (it runs the file service);
    /// each tile's lines are then in [`Tile::files`].
    pub files: bool,
}

impl Grid {
    /// The grid `ctl list` describes; every place of the rectangle must be
    /// listed once.
    pub fn from_listed(listed: &[Listed]) -> Result<Grid, String> {
        let rows = listed.iter().map(|l| l.pos.0 + 1).max().unwrap_or(0);
        let cols = listed.iter().map(|l| l.pos.1 + 1).max().unwrap_or(0);
        if rows * cols != listed.len() || rows == 0 {
            return Err(format!(
                "`ctl list` named {} tiles, not a full grid of {rows}x{cols}",
                listed.len()
            ));
        }
        let geometry = Geometry::new(rows, cols);
        let mut tiles: Vec<Option<Tile>> = vec![None; listed.len()];
        for l in listed {
            let slot = &mut tiles[geometry.index(l.pos)];
            if slot.is_some() {
                return Err(format!("`ctl list` named {} twice", l.name));
            }
            *slot = Some(Tile::from_listed(l));
        }
        Ok(Grid {
            rows,
            cols,
            tiles: tiles.into_iter().flatten().collect(),
            files: false,
        })
    }

    /// Its geometry.
    pub fn geometry(&self) -> Geometry {
        Geometry::new(self.rows, self.cols)
    }

    /// The tile at `pos`.
    pub fn tile(&self, pos: (usize, usize)) -> &Tile {
        &self.tiles[self.geometry().index(pos)]
    }

    /// Hands the lines of a `ctl files` answer to the tiles they name. A
    /// line that starts with a tile's name belongs to that tile (the name
    /// is dropped); a line that does not continues the tile before it;
    /// lines before the first name are dropped.
    pub fn set_files(&mut self, lines: &[String]) {
        self.files = true;
        let mut current: Option<usize> = None;
        for line in lines {
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some(i) = self.tiles.iter().position(|t| t.name == first) {
                current = Some(i);
                let rest = line.trim_start()[first.len()..].trim();
                if !rest.is_empty() {
                    self.tiles[i].files.push(printable(rest));
                }
            } else if let Some(i) = current {
                let rest = line.trim();
                if !rest.is_empty() {
                    self.tiles[i].files.push(printable(rest));
                }
            }
        }
    }
}

/// One look at the grid and when it was taken.
#[derive(Debug, Clone)]
pub struct Sample {
    /// What it found.
    pub grid: Grid,
    /// When, for rates.
    pub taken: Instant,
    /// When, for people.
    pub wall: SystemTime,
}

/// What state a wire is in. Ordered from least to most telling: of a
/// wire's two ends, the picture shows the greater.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LinkState {
    /// Neither end could be read (both tiles stopped).
    Unknown,
    /// Synced, the neighbour present and of compatible physics.
    Up,
    /// Synced, but no hellos: the far `itcd` does not run.
    NoPeer,
    /// Synced and present, but of another physics: no MFM passes.
    Incompatible,
    /// No sync.
    Down,
    /// Cut by `ctl cut`.
    Cut,
}

impl LinkState {
    /// The state of one end.
    pub fn of_end(end: &End) -> LinkState {
        match &end.status {
            _ if end.cut => LinkState::Cut,
            None => LinkState::Unknown,
            Some(s) if !s.link_up => LinkState::Down,
            Some(s) if !s.peer_present => LinkState::NoPeer,
            Some(s) if s.physics == Physics::Incompatible => LinkState::Incompatible,
            Some(_) => LinkState::Up,
        }
    }

    /// A word for people and for the SVG's classes.
    pub fn word(self) -> &'static str {
        match self {
            LinkState::Unknown => "unknown",
            LinkState::Up => "up",
            LinkState::NoPeer => "nopeer",
            LinkState::Incompatible => "incompatible",
            LinkState::Down => "down",
            LinkState::Cut => "cut",
        }
    }

    /// Every state, for legends.
    pub const ALL: [LinkState; 6] = [
        LinkState::Up,
        LinkState::NoPeer,
        LinkState::Incompatible,
        LinkState::Down,
        LinkState::Cut,
        LinkState::Unknown,
    ];
}

/// Packets per second through one end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Received.
    pub rx: f64,
    /// Sent.
    pub tx: f64,
}

/// One wire as drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// One end's tile.
    pub a: (usize, usize),
    /// The direction from `a`.
    pub dir: Dir,
    /// The other end's tile.
    pub b: (usize, usize),
    /// The state of the wire.
    pub state: LinkState,
    /// Packets per second both ways, when known.
    pub rate: Option<f64>,
    /// Drops at both ends, as far as they could be read.
    pub drops: u64,
}

/// A sample with rates: what is drawn.
#[derive(Debug, Clone)]
pub struct Picture {
    /// The look at the grid.
    pub sample: Sample,
    /// Per tile (in grid order) and direction, packets per second since
    /// the sample before; `None` without one, or where a counter went back
    /// (an `itcd` restarted).
    pub rates: Vec<[Option<Rate>; 6]>,
}

impl Picture {
    /// `cur`, with rates from `prev` if it is of the same grid.
    pub fn new(cur: Sample, prev: Option<&Sample>) -> Picture {
        let n = cur.grid.tiles.len();
        let mut rates = vec![[None; 6]; n];
        let same_grid =
            prev.filter(|p| p.grid.rows == cur.grid.rows && p.grid.cols == cur.grid.cols);
        if let Some(prev) = same_grid {
            let secs = cur.taken.duration_since(prev.taken).as_secs_f64();
            if secs > 0.0 {
                for (i, rate) in rates.iter_mut().enumerate() {
                    for d in Dir::ALL {
                        let counters = |g: &Grid| {
                            g.tiles[i].ends[d.index()]
                                .as_ref()
                                .and_then(|e| e.status.as_ref())
                                .map(|s| (s.rx_packets, s.tx_packets))
                        };
                        if let (Some((rx1, tx1)), Some((rx0, tx0))) =
                            (counters(&cur.grid), counters(&prev.grid))
                        {
                            if rx1 >= rx0 && tx1 >= tx0 {
                                rate[d.index()] = Some(Rate {
                                    rx: (rx1 - rx0) as f64 / secs,
                                    tx: (tx1 - tx0) as f64 / secs,
                                });
                            }
                        }
                    }
                }
            }
        }
        Picture { sample: cur, rates }
    }

    /// The grid.
    pub fn grid(&self) -> &Grid {
        &self.sample.grid
    }

    /// The rate through `pos`'s end toward `dir`.
    pub fn rate(&self, pos: (usize, usize), dir: Dir) -> Option<Rate> {
        self.rates[self.grid().geometry().index(pos)][dir.index()]
    }

    /// Every wire once, in [`Geometry::links`] order.
    pub fn links(&self) -> Vec<Link> {
        let grid = self.grid();
        grid.geometry()
            .links()
            .map(|(a, dir, b)| self.link(a, dir, b))
            .collect()
    }

    /// The wire from `a` toward `dir`, which leads to `b`.
    fn link(&self, a: (usize, usize), dir: Dir, b: (usize, usize)) -> Link {
        let grid = self.grid();
        let back = dir.opposite();
        let end_a = grid.tile(a).ends[dir.index()].as_ref();
        let end_b = grid.tile(b).ends[back.index()].as_ref();
        let state = [end_a, end_b]
            .into_iter()
            .flatten()
            .map(LinkState::of_end)
            .max()
            .unwrap_or(LinkState::Unknown);
        let rate = match (self.rate(a, dir), self.rate(b, back)) {
            (Some(ra), Some(rb)) => Some(ra.tx + rb.tx),
            (Some(r), None) | (None, Some(r)) => Some(r.rx + r.tx),
            (None, None) => None,
        };
        let drops = [end_a, end_b]
            .into_iter()
            .flatten()
            .filter_map(|e| e.status.as_ref())
            .map(|s| s.drops)
            .sum();
        Link {
            a,
            dir,
            b,
            state,
            rate,
            drops,
        }
    }
}

/// A packet rate in at most four characters: `0`, `12`, `999`, `1.2k`,
/// `12k`, `120k`, `1.2M`.
pub fn format_rate(rate: f64) -> String {
    let rate = rate.max(0.0);
    if rate < 999.5 {
        format!("{}", rate.round() as u64)
    } else if rate < 9_950.0 {
        format!("{:.1}k", rate / 1e3)
    } else if rate < 999_500.0 {
        format!("{}k", (rate / 1e3).round() as u64)
    } else if rate < 9_950_000.0 {
        format!("{:.1}M", rate / 1e6)
    } else {
        format!("{}M", (rate / 1e6).round() as u64)
    }
}

/// `s` with every control character shown as `?`, so text from the grid
/// cannot drive the terminal.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
#[path = "grid_model_tests.rs"]
mod tests;
