//! Tests of [`super`]: the screen of a 4x4 grid in 80x24, read back as text.

use std::path::Path;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::*;
use crate::grid_fixtures;

/// The screen's lines, trailing blanks dropped.
fn render(picture: &Picture, width: u16, height: u16, screen: impl Fn(&mut Screen)) -> Vec<String> {
    let mut buf = Buffer::empty(Rect::new(0, 0, width, height));
    let mut s = Screen {
        dir: Path::new("/tmp/grid"),
        picture: Some(picture),
        age: Duration::from_millis(300),
        error: None,
        selected: (0, 0),
        wire: Some(Dir::ET),
        message: "",
    };
    screen(&mut s);
    draw(&mut buf, &s);
    (0..height)
        .map(|y| {
            let line: String = (0..width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            line.trim_end().to_string()
        })
        .collect()
}

fn shown(lines: &[String]) -> String {
    lines.join("\n")
}

#[test]
fn a_4x4_grid_fits_80x24() {
    let (w, h) = grid_size(4, 4);
    assert!(w <= 80 && h + 13 <= 24, "{w}x{h}");
    let mut grid = grid_fixtures::grid(4, 4);
    grid_fixtures::cut(&mut grid, (0, 0), Dir::ET);
    let picture = grid_fixtures::picture(grid, 5);
    let lines = render(&picture, 80, 24, |_| {});
    let text = shown(&lines);
    assert!(!text.contains("needs"), "{text}");
    // Every tile in its hex-offset place: odd rows half a pitch right.
    for r in 0..4 {
        for c in 0..4 {
            let name = format!("r{r}c{c}");
            let line = &lines[1 + 3 * r];
            let at = line
                .find(&name)
                .unwrap_or_else(|| panic!("{name} not on its line:\n{text}"));
            let (x0, _) = tile_origin((r, c), 0, 0);
            // Centred in its TILE_W columns (the grid is centred too).
            let expected = 3 + usize::from(x0) + 3;
            assert_eq!(at, expected, "{name}:\n{text}");
        }
    }
    // The cut wire and the others with their rates (5 each way: 10/s).
    assert!(lines[1].contains("cut"), "{text}");
    assert!(lines[1].contains("-- 10 --"), "{text}");
    assert!(lines[3].contains("\\10"), "{text}");
    assert!(lines[3].contains("10/"), "{text}");
    // The selected tile's table: ET is cut, SE up with its rates.
    assert!(lines[13].starts_with("r0c0  running  pid 100"), "{text}");
    assert!(lines[15].starts_with(">ET  -       cut"), "{text}");
    assert!(
        lines[16].starts_with(" SE  r1c0    up    present compat"),
        "{text}"
    );
    assert!(lines[16].contains("      5      5"), "{text}");
    assert_eq!(lines[23], KEYS);
    assert!(lines[22].contains("x cut"), "legend: {text}");
    assert!(lines.iter().all(|l| l.chars().count() <= 80));
}

#[test]
fn stopped_tiles_and_messages_show() {
    let mut grid = grid_fixtures::grid(3, 3);
    let stopped = &mut grid.tiles[4];
    stopped.state = "stopped".into();
    stopped.pid = None;
    stopped.physics_id = None;
    for end in stopped.ends.iter_mut().flatten() {
        end.status = None;
    }
    // Its neighbours still sync with the wire but hear no hellos.
    for (pos, d) in [((1, 0), Dir::ET), ((1, 2), Dir::WT)] {
        let i = grid.geometry().index(pos);
        let s = grid.tiles[i].ends[d.index()].as_mut().unwrap();
        s.status.as_mut().unwrap().peer_present = false;
    }
    let picture = grid_fixtures::picture(grid, 0);
    let lines = render(&picture, 80, 24, |s| {
        s.selected = (1, 1);
        s.wire = Some(Dir::NE);
        s.message = "stop r1c1: done";
    });
    let text = shown(&lines);
    assert!(lines[5].contains("stopped"), "{text}");
    assert!(lines[4].contains("-nopeer-"), "{text}");
    assert!(lines[4].contains(">  r1c1  <"), "{text}");
    assert!(text.contains("r1c1  stopped  drops 0"), "{text}");
    assert!(text.contains(">NE  -       -"), "{text}");
    assert!(lines[22].starts_with("stop r1c1: done"), "{text}");
}

#[test]
fn a_small_terminal_cuts_the_picture_off() {
    let picture = grid_fixtures::picture(grid_fixtures::grid(4, 4), 1);
    for (w, h) in [(40, 10), (1, 1), (80, 5)] {
        let lines = render(&picture, w, h, |_| {});
        assert_eq!(lines.len(), usize::from(h));
    }
    let lines = render(&picture, 60, 12, |_| {});
    assert!(lines[0].contains("(needs 80x24)"), "{}", shown(&lines));
}

#[test]
fn file_lines_show_for_the_selected_tile() {
    let mut grid = grid_fixtures::grid(2, 2);
    grid.set_files(&["r0c0 map v3 done".into(), "r0c0 physics v1 4/9".into()]);
    let picture = grid_fixtures::picture(grid, 0);
    let lines = render(&picture, 80, 24, |_| {});
    let text = shown(&lines);
    assert!(
        text.contains("files: map v3 done; physics v1 4/9"),
        "{text}"
    );
}

#[test]
fn without_a_picture_the_reason_shows() {
    let mut buf = Buffer::empty(Rect::new(0, 0, 80, 24));
    let screen = Screen {
        dir: Path::new("/tmp/grid"),
        picture: None,
        age: Duration::ZERO,
        error: Some("no tile-sim running at /tmp/grid"),
        selected: (0, 0),
        wire: None,
        message: "",
    };
    draw(&mut buf, &screen);
    let line: String = (0..80).map(|x| buf[(x, 2)].symbol().to_string()).collect();
    assert!(line.starts_with("no picture of the grid: no tile-sim running"));
}
