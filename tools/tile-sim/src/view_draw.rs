//! Draws `tile-sim view`'s screen from a [`Picture`] into a ratatui
//! [`Buffer`]: no terminal, no I/O, so tests draw into a buffer of any size
//! and read it back.
//!
//! The screen, laid out for 80x24 and a 4x4 grid:
//!
//! ```text
//! line 0      title: the directory, the grid's size, the age of the picture
//! lines 1..   the grid: per tile two lines (name; state), one line of
//!             diagonal wires between rows; odd rows shifted half a tile
//! then        the selected tile: a heading, a table of its wired
//!             directions (neighbour, link, peer, physics, rates,
//!             counters, drops), its file service lines
//! last two    the last action's outcome (else the legend); the keys
//! ```
//!
//! Tiles are [`TILE_W`] columns wide every [`PITCH`] columns, with the wire
//! to the east between them; a 4x4 grid takes 73 columns and 11 lines.
//! Each wire is drawn with a glyph and a word as well as a colour, so the
//! picture also reads without colour (`tmux capture-pane`, a log): `-- 12
//! --` (up, 12 packets/s), `down`, `cut`, `~ phys ~` (incompatible),
//! `nopeer`; diagonals as `\` `/` with the rate beside them, `x` when down
//! or cut. Whatever does not fit the terminal is cut off, never wrapped.

use std::path::Path;
use std::time::Duration;

use itc_proto::Dir;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier, Style};

use crate::grid_model::{format_rate, Link, LinkState, Picture, Tile};

/// Columns from one tile to the next in a row.
pub const PITCH: u16 = 18;
/// Columns of a tile.
pub const TILE_W: u16 = 10;
/// How far odd rows are shifted: half a tile's pitch.
pub const SHIFT: u16 = PITCH / 2;
/// Lines from one row of tiles to the next: the tile's two and one for
/// the diagonal wires.
pub const ROW_LINES: u16 = 3;

/// The keys, as the bottom line shows them.
pub const KEYS: &str = "arrows/hjkl tile  tab wire  c cut  r restore  s stop  t start  q quit";

/// Everything on the screen besides the picture.
#[derive(Debug, Clone, Copy)]
pub struct Screen<'a> {
    /// The grid's `--dir`.
    pub dir: &'a Path,
    /// The latest picture, if any came yet.
    pub picture: Option<&'a Picture>,
    /// How old it is.
    pub age: Duration,
    /// Why the last look at the grid failed, if it did.
    pub error: Option<&'a str>,
    /// The selected tile.
    pub selected: (usize, usize),
    /// The selected wire of that tile.
    pub wire: Option<Dir>,
    /// The outcome of the last action, or an empty string.
    pub message: &'a str,
}

/// Columns and lines the grid picture of `rows` x `cols` takes.
pub fn grid_size(rows: usize, cols: usize) -> (u16, u16) {
    let cols = cols.max(1) as u16;
    let rows = rows.max(1) as u16;
    let shift = if rows > 1 { SHIFT } else { 0 };
    ((cols - 1) * PITCH + TILE_W + shift, rows * ROW_LINES - 1)
}

/// Writes `text` at (x, y), cut off at the buffer's right edge; nothing
/// outside the buffer.
fn put(buf: &mut Buffer, x: u16, y: u16, text: &str, style: Style) {
    let area = buf.area;
    if y < area.top() || y >= area.bottom() || x < area.left() || x >= area.right() {
        return;
    }
    buf.set_stringn(x, y, text, usize::from(area.right() - x), style);
}

fn state_style(state: LinkState) -> Style {
    let s = Style::default();
    match state {
        LinkState::Up => s.fg(Color::Green),
        LinkState::NoPeer => s.fg(Color::Yellow),
        LinkState::Incompatible => s.fg(Color::Magenta),
        LinkState::Down => s.fg(Color::Red),
        LinkState::Cut => s.fg(Color::Red).add_modifier(Modifier::BOLD),
        LinkState::Unknown => s.fg(Color::DarkGray),
    }
}

/// The eight columns of a wire to the east.
fn east_text(link: &Link) -> String {
    match link.state {
        LinkState::Up => match link.rate {
            Some(r) => format!("{:-^8}", format!(" {} ", format_rate(r))),
            None => "-".repeat(8),
        },
        LinkState::NoPeer => "-nopeer-".to_string(),
        LinkState::Incompatible => "~ phys ~".to_string(),
        LinkState::Down => "  down  ".to_string(),
        LinkState::Cut => "  cut   ".to_string(),
        LinkState::Unknown => "........".to_string(),
    }
}

/// A diagonal wire's glyph (`glyph` when it carries packets) and its word
/// of at most four columns.
fn diagonal_text(link: &Link, glyph: char) -> (char, String) {
    match link.state {
        LinkState::Up => (glyph, link.rate.map(format_rate).unwrap_or_default()),
        LinkState::NoPeer => (glyph, "?".to_string()),
        LinkState::Incompatible => ('~', "phys".to_string()),
        LinkState::Down => ('x', "down".to_string()),
        LinkState::Cut => ('x', "cut".to_string()),
        LinkState::Unknown => ('.', String::new()),
    }
}

/// Draws the whole screen into `buf`.
pub fn draw(buf: &mut Buffer, screen: &Screen) {
    let area = buf.area;
    if area.width == 0 || area.height == 0 {
        return;
    }
    let bottom = area.bottom() - 1;
    draw_title(buf, screen);
    put(
        buf,
        area.x,
        bottom,
        KEYS,
        Style::default().add_modifier(Modifier::DIM),
    );
    let Some(picture) = screen.picture else {
        let text = match screen.error {
            Some(e) => format!("no picture of the grid: {e}"),
            None => "reading the grid...".to_string(),
        };
        put(buf, area.x, area.y + 2, &text, Style::default());
        return;
    };
    let grid = picture.grid();
    let (w, h) = grid_size(grid.rows, grid.cols);
    let x0 = area.x + area.width.saturating_sub(w) / 2;
    let y0 = area.y + 1;
    draw_grid(buf, picture, screen, x0, y0);
    let detail_y = y0 + h + 1;
    draw_detail(buf, picture, screen, detail_y);
    let message_style = if screen.message.starts_with("error") {
        Style::default().fg(Color::Red)
    } else {
        Style::default()
    };
    if screen.message.is_empty() {
        draw_legend(buf, area.x, bottom.saturating_sub(1));
    } else {
        put(
            buf,
            area.x,
            bottom.saturating_sub(1),
            screen.message,
            message_style,
        );
    }
}

fn draw_title(buf: &mut Buffer, screen: &Screen) {
    let area = buf.area;
    let mut title = format!("tile-sim view {}", screen.dir.display());
    if let Some(p) = screen.picture {
        let g = p.grid();
        title.push_str(&format!("  {}x{}", g.rows, g.cols));
        let (w, h) = grid_size(g.rows, g.cols);
        // The title, the grid, a blank line, the tile's heading, table
        // header and six rows, files, message, keys.
        if w > area.width || h + 13 > area.height {
            title.push_str(&format!("  (needs {}x{})", w.max(80), h + 13));
        }
    }
    let age = screen.age.as_secs_f64();
    match screen.error {
        Some(e) => {
            title.push_str(&format!("  {age:.0}s old: {e}"));
            put(buf, area.x, area.y, &title, Style::default().fg(Color::Red));
        }
        None => {
            title.push_str(&format!("  {age:.1}s ago"));
            put(
                buf,
                area.x,
                area.y,
                &title,
                Style::default().add_modifier(Modifier::BOLD),
            );
        }
    }
}

fn draw_legend(buf: &mut Buffer, x: u16, y: u16) {
    let mut at = x;
    for (text, state) in [
        ("-- 12 -- up, packets/s", LinkState::Up),
        ("nopeer", LinkState::NoPeer),
        ("~ phys", LinkState::Incompatible),
        ("x down", LinkState::Down),
        ("x cut", LinkState::Cut),
    ] {
        put(buf, at, y, text, state_style(state));
        at += text.len() as u16 + 2;
    }
}

/// Where tile `pos` goes, from the grid's top left corner (x0, y0).
pub fn tile_origin(pos: (usize, usize), x0: u16, y0: u16) -> (u16, u16) {
    let (r, c) = (pos.0 as u16, pos.1 as u16);
    (x0 + c * PITCH + (r % 2) * SHIFT, y0 + r * ROW_LINES)
}

fn draw_grid(buf: &mut Buffer, picture: &Picture, screen: &Screen, x0: u16, y0: u16) {
    let grid = picture.grid();
    let selected_link = |l: &Link| {
        screen.wire.is_some_and(|w| {
            (l.a == screen.selected && l.dir == w)
                || (l.b == screen.selected && l.dir.opposite() == w)
        })
    };
    for link in picture.links() {
        let (x, y) = tile_origin(link.a, x0, y0);
        let mut style = state_style(link.state);
        if selected_link(&link) {
            style = style.add_modifier(Modifier::REVERSED);
        }
        match link.dir {
            Dir::ET => put(buf, x + TILE_W, y, &east_text(&link), style),
            Dir::SE => {
                let (glyph, word) = diagonal_text(&link, '\\');
                put(buf, x + TILE_W - 1, y + 2, &glyph.to_string(), style);
                put(buf, x + TILE_W, y + 2, &word, state_style(link.state));
            }
            Dir::SW => {
                let (glyph, word) = diagonal_text(&link, '/');
                put(buf, x, y + 2, &glyph.to_string(), style);
                let wx = x.saturating_sub(word.len() as u16);
                put(buf, wx, y + 2, &word, state_style(link.state));
            }
            // Geometry::links names each wire from its west or north end.
            _ => {}
        }
    }
    for (pos, tile) in grid.geometry().tiles().zip(&grid.tiles) {
        let (x, y) = tile_origin(pos, x0, y0);
        draw_tile(buf, tile, pos == screen.selected, x, y);
    }
}

fn draw_tile(buf: &mut Buffer, tile: &Tile, selected: bool, x: u16, y: u16) {
    let w = usize::from(TILE_W);
    let mut name = format!("{:^w$}", tile.name);
    if selected {
        name = format!(">{:^inner$}<", tile.name, inner = w - 2);
    }
    let (word, colour) = if !tile.running() {
        (tile.state.clone(), Color::Red)
    } else if tile.problem.is_some() {
        ("no tree".to_string(), Color::Yellow)
    } else if let Some(first) = tile.files.first() {
        (first.clone(), Color::Cyan)
    } else if tile.drops() > 0 {
        (format!("{} drops", tile.drops()), Color::Yellow)
    } else {
        ("ok".to_string(), Color::Green)
    };
    let word: String = word.chars().take(w).collect();
    let mut name_style = Style::default().fg(colour).add_modifier(Modifier::BOLD);
    if selected {
        name_style = name_style.add_modifier(Modifier::REVERSED);
    }
    put(buf, x, y, &name, name_style);
    put(
        buf,
        x,
        y + 1,
        &format!("{word:^w$}"),
        Style::default().fg(colour),
    );
}

fn draw_detail(buf: &mut Buffer, picture: &Picture, screen: &Screen, y: u16) {
    let area = buf.area;
    let x = area.x;
    let grid = picture.grid();
    let tile = grid.tile(screen.selected);
    let mut heading = format!("{}  {}", tile.name, tile.state);
    if let Some(pid) = tile.pid {
        heading.push_str(&format!("  pid {pid}"));
    }
    match (&tile.problem, &tile.physics_id) {
        (Some(p), _) => heading.push_str(&format!("  {p}")),
        (None, Some(id)) if id.is_empty() => heading.push_str("  physics (none)"),
        (None, Some(id)) => heading.push_str(&format!("  physics {id}")),
        (None, None) => {}
    }
    heading.push_str(&format!("  drops {}", tile.drops()));
    put(
        buf,
        x,
        y,
        &heading,
        Style::default().add_modifier(Modifier::BOLD),
    );
    let header = format!(
        " {:<3} {:<7} {:<5} {:<7} {:<8} {:>6} {:>6} {:>9} {:>9} {:>7}",
        "dir", "name", "link", "peer", "physics", "rx/s", "tx/s", "rx", "tx", "drops"
    );
    put(
        buf,
        x,
        y + 1,
        &header,
        Style::default().add_modifier(Modifier::UNDERLINED),
    );
    for (line, d) in (y + 2..).zip(tile.wired()) {
        let end = tile.ends[d.index()].as_ref();
        let state = end.map_or(LinkState::Unknown, LinkState::of_end);
        let marker = if screen.wire == Some(d) { '>' } else { ' ' };
        let rate = picture.rate(screen.selected, d);
        let rate_text = |v: Option<f64>| v.map_or_else(|| "-".to_string(), format_rate);
        let text = match end.and_then(|e| e.status.as_ref()) {
            Some(s) => format!(
                "{marker}{:<3} {:<7} {:<5} {:<7} {:<8} {:>6} {:>6} {:>9} {:>9} {:>7}",
                d.name(),
                if s.peer_name.is_empty() {
                    "-"
                } else {
                    &s.peer_name
                },
                if end.is_some_and(|e| e.cut) {
                    "cut"
                } else if s.link_up {
                    "up"
                } else {
                    "down"
                },
                if s.peer_present { "present" } else { "absent" },
                s.physics.short(),
                rate_text(rate.map(|r| r.rx)),
                rate_text(rate.map(|r| r.tx)),
                s.rx_packets,
                s.tx_packets,
                s.drops,
            ),
            None => format!(
                "{marker}{:<3} {:<7} {}",
                d.name(),
                "-",
                if end.is_some_and(|e| e.cut) {
                    "cut"
                } else {
                    "-"
                }
            ),
        };
        let mut style = state_style(state);
        if marker == '>' {
            style = style.add_modifier(Modifier::REVERSED);
        }
        put(buf, x, line, &text, style);
    }
    // Six rows are kept for the directions, so the lines below stay put.
    let files_y = y + 2 + 6;
    if grid.files {
        let text = if tile.files.is_empty() {
            "files: none".to_string()
        } else {
            format!("files: {}", tile.files.join("; "))
        };
        put(buf, x, files_y, &text, Style::default().fg(Color::Cyan));
    }
}

#[cfg(test)]
#[path = "view_draw_tests.rs"]
mod tests;
