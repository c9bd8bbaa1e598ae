//! `tile-sim snapshot --dir DIR -o FILE.svg`: the picture `tile-sim view`
//! shows, as an SVG file for bug reports and docs.
//!
//! The grid is looked at twice, `--interval` apart, so the wires carry
//! their packet rates (`--interval 0`: once, no rates). The SVG is
//! standalone XML (no scripts, no external references): tiles in their
//! hex-offset places with name, state, pid, physics id, drops and the file
//! service's lines; each wire a line coloured and dashed by its state,
//! labelled with its rate and drops. Every text from the grid is escaped.
//! Elements carry classes and `data-` attributes (`class="link cut"
//! data-from="r0c0" data-dir="ET" data-to="r0c1"`, `class="tile running"
//! data-name="r0c0"`) so tests and scripts can read the picture back.
//!
//! Exit status: 0 written, 1 failed (the grid answered badly, the file
//! could not be written), 2 no `tile-sim` runs at DIR.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use itc_proto::grid::Geometry;

use crate::client::Failure;
use crate::grid_model::{format_rate, LinkState, Picture, Tile};
use crate::grid_read;

/// Options of `tile-sim snapshot`.
#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    /// The --dir of the running `tile-sim run`.
    #[arg(long)]
    dir: PathBuf,
    /// The SVG file to write (`-` for standard output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
    /// Seconds between the two looks that give the packet rates, up to 60;
    /// 0 looks once and shows no rates.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_secs)]
    interval: Duration,
}

fn parse_secs(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.0..=60.0).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err("expected seconds from 0 to 60".to_string()),
    }
}

/// Runs `tile-sim snapshot`.
pub fn run(args: SnapshotArgs) -> ExitCode {
    let fail = |f: Failure| {
        eprintln!("tile-sim: {}", f.message());
        ExitCode::from(if matches!(f, Failure::NotRunning(_)) {
            2
        } else {
            1
        })
    };
    let first = match grid_read::sample(&args.dir) {
        Ok(s) => s,
        Err(f) => return fail(f),
    };
    let picture = if args.interval.is_zero() {
        Picture::new(first, None)
    } else {
        // The rates' interval: the time between two looks, nothing to wait on.
        std::thread::sleep(args.interval);
        match grid_read::sample(&args.dir) {
            Ok(second) => Picture::new(second, Some(&first)),
            Err(f) => return fail(f),
        }
    };
    let text = svg(&picture, &args.dir, args.interval);
    let written = if args.output.as_os_str() == "-" {
        use std::io::Write;
        std::io::stdout().write_all(text.as_bytes())
    } else {
        fs::write(&args.output, text)
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tile-sim: {}: {e}", args.output.display());
            ExitCode::FAILURE
        }
    }
}

/// Horizontal distance between tiles of a row, in pixels.
const PITCH_X: f64 = 240.0;
/// Vertical distance between rows.
const PITCH_Y: f64 = 150.0;
/// A tile's box.
const TILE_W: f64 = 156.0;
const TILE_H: f64 = 66.0;
/// Space around the grid, and above it for the title.
const MARGIN: f64 = 30.0;
const TOP: f64 = 60.0;
/// File lines drawn under a tile; the rest are counted.
const MAX_FILE_LINES: usize = 3;
const LINE_H: f64 = 15.0;

/// `s` escaped for XML text and attribute values.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Not allowed in XML 1.0 at all; grid_model already keeps
            // control characters out, this keeps the file valid anyway.
            c if c.is_control() && c != '\t' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// The colour of a wire in `state`, and its dash pattern.
fn stroke(state: LinkState) -> (&'static str, &'static str) {
    match state {
        LinkState::Up => ("#2e7d32", ""),
        LinkState::NoPeer => ("#f9a825", "8 4"),
        LinkState::Incompatible => ("#8e24aa", "2 4"),
        LinkState::Down => ("#c62828", "6 6"),
        LinkState::Cut => ("#c62828", "2 6"),
        LinkState::Unknown => ("#9e9e9e", "2 6"),
    }
}

/// The centre of tile `pos`.
fn centre(pos: (usize, usize)) -> (f64, f64) {
    let shift = if pos.0 % 2 == 1 { PITCH_X / 2.0 } else { 0.0 };
    (
        MARGIN + TILE_W / 2.0 + pos.1 as f64 * PITCH_X + shift,
        TOP + TILE_H / 2.0 + pos.0 as f64 * PITCH_Y,
    )
}

/// The picture as a standalone SVG document.
pub fn svg(picture: &Picture, dir: &Path, interval: Duration) -> String {
    let grid = picture.grid();
    let geometry = grid.geometry();
    let shift = if grid.rows > 1 { PITCH_X / 2.0 } else { 0.0 };
    let width = 2.0 * MARGIN + TILE_W + (grid.cols - 1) as f64 * PITCH_X + shift;
    let width = width.max(560.0);
    let legend_y = TOP
        + (grid.rows - 1) as f64 * PITCH_Y
        + TILE_H
        + 20.0
        + if grid.files {
            LINE_H * (MAX_FILE_LINES + 1) as f64
        } else {
            0.0
        };
    let height = legend_y + 50.0;
    let mut out = String::new();
    let _ = writeln!(out, r##"<?xml version="1.0" encoding="UTF-8"?>"##);
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="12">"##
    );
    let when = humantime::format_rfc3339_seconds(picture.sample.wall);
    let rates = if picture.rates.iter().flatten().any(Option::is_some) {
        format!("packets/s over {:.1} s", interval.as_secs_f64())
    } else {
        "no rates".to_string()
    };
    let title = format!(
        "{}x{} grid at {}, {when}, {rates}",
        grid.rows,
        grid.cols,
        dir.display()
    );
    let _ = writeln!(out, "<title>{}</title>", xml(&title));
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        out,
        r##"<text x="{MARGIN}" y="30" font-size="15" font-weight="bold">{}</text>"##,
        xml(&format!("tile-sim: {title}"))
    );
    let _ = writeln!(out, r##"<g class="links">"##);
    for link in picture.links() {
        let (x1, y1) = centre(link.a);
        let (x2, y2) = centre(link.b);
        let (colour, dash) = stroke(link.state);
        let from = Geometry::name(link.a.0, link.a.1);
        let to = Geometry::name(link.b.0, link.b.1);
        let _ = writeln!(
            out,
            r##"<g class="link {}" data-from="{from}" data-dir="{}" data-to="{to}">"##,
            link.state.word(),
            link.dir
        );
        let dash_attr = if dash.is_empty() {
            String::new()
        } else {
            format!(r##" stroke-dasharray="{dash}""##)
        };
        let _ = writeln!(
            out,
            r##"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{colour}" stroke-width="4"{dash_attr}/>"##
        );
        let mut label = match (link.state, link.rate) {
            (LinkState::Up, Some(r)) => format!("{}/s", format_rate(r)),
            (LinkState::Up, None) => String::new(),
            (state, _) => state.word().to_string(),
        };
        if link.drops > 0 {
            label.push_str(&format!(" {} drops", link.drops));
        }
        if !label.is_empty() {
            // A white box behind the label: it reads over the line in any
            // renderer (monospace at 12 px: about 7.3 px a character).
            let (mx, my) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
            let w = 7.3 * label.chars().count() as f64 + 6.0;
            let _ = writeln!(
                out,
                r##"<rect x="{:.1}" y="{:.1}" width="{w:.1}" height="16" fill="#ffffff"/>"##,
                mx - w / 2.0,
                my - 8.0
            );
            let _ = writeln!(
                out,
                r##"<text x="{mx:.1}" y="{:.1}" text-anchor="middle" fill="{colour}">{}</text>"##,
                my + 4.0,
                xml(&label)
            );
        }
        let _ = writeln!(out, "</g>");
    }
    let _ = writeln!(out, "</g>");
    let _ = writeln!(out, r##"<g class="tiles">"##);
    for (pos, tile) in geometry.tiles().zip(&grid.tiles) {
        tile_svg(&mut out, pos, tile);
    }
    let _ = writeln!(out, "</g>");
    legend(&mut out, legend_y);
    let _ = writeln!(out, "</svg>");
    out
}

fn tile_svg(out: &mut String, pos: (usize, usize), tile: &Tile) {
    let (cx, cy) = centre(pos);
    let (x, y) = (cx - TILE_W / 2.0, cy - TILE_H / 2.0);
    let (fill, border) = match (tile.running(), tile.problem.is_some()) {
        (true, false) => ("#e8f5e9", "#2e7d32"),
        (true, true) => ("#fff8e1", "#f9a825"),
        (false, _) => ("#eeeeee", "#c62828"),
    };
    let _ = writeln!(
        out,
        r##"<g class="tile {}" data-name="{}">"##,
        xml(&tile.state),
        xml(&tile.name)
    );
    let _ = writeln!(
        out,
        r##"<rect x="{x:.1}" y="{y:.1}" width="{TILE_W}" height="{TILE_H}" rx="8" fill="{fill}" stroke="{border}" stroke-width="2"/>"##
    );
    let mut lines = vec![(tile.name.clone(), true)];
    let mut second = tile.state.clone();
    if let Some(pid) = tile.pid {
        second.push_str(&format!(" pid {pid}"));
    }
    lines.push((second, false));
    let third = match (&tile.problem, &tile.physics_id) {
        (Some(_), _) => "tree unreadable".to_string(),
        (None, Some(id)) if !id.is_empty() => format!("physics {id} drops {}", tile.drops()),
        _ => format!("drops {}", tile.drops()),
    };
    lines.push((third, false));
    for (i, (text, bold)) in lines.iter().enumerate() {
        let weight = if *bold {
            r##" font-weight="bold""##
        } else {
            ""
        };
        let _ = writeln!(
            out,
            r##"<text x="{cx:.1}" y="{:.1}" text-anchor="middle"{weight}>{}</text>"##,
            y + 18.0 + i as f64 * LINE_H,
            xml(text)
        );
    }
    let mut files: Vec<String> = tile.files.iter().take(MAX_FILE_LINES).cloned().collect();
    if tile.files.len() > MAX_FILE_LINES {
        files.push(format!("+{} more", tile.files.len() - MAX_FILE_LINES));
    }
    for (i, text) in files.iter().enumerate() {
        let _ = writeln!(
            out,
            r##"<text class="file" x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#00838f">{}</text>"##,
            y + TILE_H + 14.0 + i as f64 * 13.0,
            xml(text)
        );
    }
    let _ = writeln!(out, "</g>");
}

fn legend(out: &mut String, y: f64) {
    let _ = writeln!(out, r##"<g class="legend">"##);
    let mut x = MARGIN;
    for state in LinkState::ALL {
        let (colour, dash) = stroke(state);
        let dash_attr = if dash.is_empty() {
            String::new()
        } else {
            format!(r##" stroke-dasharray="{dash}""##)
        };
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="4"{dash_attr}/>"##,
            x + 28.0
        );
        let word = state.word();
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}">{word}</text>"##,
            x + 34.0,
            y + 4.0
        );
        x += 34.0 + 8.0 * word.len() as f64 + 24.0;
    }
    let _ = writeln!(out, "</g>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid_fixtures;
    use itc_proto::Dir;

    #[test]
    fn the_svg_parses_and_holds_every_tile_and_wire() {
        let mut grid = grid_fixtures::grid(3, 3);
        grid_fixtures::cut(&mut grid, (1, 1), Dir::SE);
        grid.tiles[0].name = "r0c0".into();
        grid.set_files(&["r0c0 <map> & \"v2\" 3/9".into()]);
        let picture = grid_fixtures::picture(grid, 2);
        let text = svg(&picture, Path::new("/tmp/a&b"), Duration::from_secs(1));
        let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let with_class = |prefix: &str| -> Vec<roxmltree::Node> {
            doc.descendants()
                .filter(|n| n.attribute("class").is_some_and(|c| c.starts_with(prefix)))
                .collect()
        };
        assert_eq!(with_class("tile ").len(), 9);
        let links = with_class("link ");
        assert_eq!(links.len(), Geometry::new(3, 3).links().count());
        let cut: Vec<_> = links
            .iter()
            .filter(|n| n.attribute("class") == Some("link cut"))
            .collect();
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].attribute("data-from"), Some("r1c1"));
        assert_eq!(cut[0].attribute("data-dir"), Some("SE"));
        assert_eq!(cut[0].attribute("data-to"), Some("r2c2"));
        // Up wires carry their rate: 2 each way.
        let up = links
            .iter()
            .find(|n| n.attribute("class") == Some("link up"))
            .unwrap();
        let label = up.descendants().find(|n| n.has_tag_name("text")).unwrap();
        assert_eq!(label.text(), Some("4/s"));
        let file = with_class("file");
        assert_eq!(file[0].text(), Some("<map> & \"v2\" 3/9"));
        let title = doc.descendants().find(|n| n.has_tag_name("title")).unwrap();
        assert!(title.text().unwrap().contains("/tmp/a&b"));
    }
}
