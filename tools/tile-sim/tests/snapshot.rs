//! `tile-sim snapshot` over a real grid of `itcd`s: the SVG it writes is
//! well-formed XML (parsed with roxmltree) and holds every tile and every
//! wire of the grid, in the states `tile-sim ctl` shows them.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::process::{Command, Stdio};

use common::{scratch, Grid, TILE_SIM};

/// The direction back along a wire.
fn opposite(d: &str) -> &'static str {
    match d {
        "ET" => "WT",
        "WT" => "ET",
        "SE" => "NW",
        "NW" => "SE",
        "SW" => "NE",
        "NE" => "SW",
        other => panic!("direction {other}"),
    }
}

#[test]
fn a_snapshot_of_a_3x3_grid_with_a_cut_wire_is_svg_with_every_tile_and_wire() {
    let grid = Grid::start("snap", 3, 3);
    let cut = grid.ctl(&["cut", "r1c1", "SE"]);
    assert!(cut.status.success(), "ctl cut: {cut:?}");
    // Packets r0c1 drops (nothing reads service 20 there): the wire and
    // the tile show them.
    grid.send_unread("r0c0", 4);
    let dropped = || {
        let status = grid.dir.join("r0c1/tile/WT/status");
        test_support::status_value(&status, "drop_no_reader")
            .parse::<u64>()
            .unwrap_or(0)
    };
    assert!(
        test_support::wait_for(common::DEADLINE, || dropped() >= 4),
        "r0c1 never counted the drops"
    );
    let list = String::from_utf8_lossy(&grid.ctl(&["list"]).stdout).into_owned();
    assert!(grid.listed("r1c1").contains("SE:down"), "{list}");

    let file = grid.base.join("grid.svg");
    let out = Command::new(TILE_SIM)
        .args(["snapshot", "--interval", "0.5", "--dir"])
        .arg(&grid.dir)
        .arg("-o")
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("run tile-sim snapshot");
    assert!(out.status.success(), "snapshot: {out:?}");
    let text = fs::read_to_string(&file).expect("the SVG file");
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );

    let with_class = |prefix: &str| -> Vec<roxmltree::Node> {
        doc.descendants()
            .filter(|n| n.attribute("class").is_some_and(|c| c.starts_with(prefix)))
            .collect()
    };

    // Every tile, once, running, with its name written in it.
    let tiles = with_class("tile ");
    let names: BTreeSet<&str> = tiles
        .iter()
        .filter_map(|n| n.attribute("data-name"))
        .collect();
    let expected: BTreeSet<&str> = grid.names.iter().map(String::as_str).collect();
    assert_eq!(names, expected);
    for tile in &tiles {
        assert_eq!(tile.attribute("class"), Some("tile running"));
        let name = tile.attribute("data-name").unwrap();
        assert!(
            tile.descendants().any(|n| n.text() == Some(name)),
            "{name}'s box does not show its name"
        );
    }

    // Every wire `ctl list` shows, once, from one of its ends, and to the
    // tile the far end names.
    let links = with_class("link ");
    let ends_in_list: usize = list
        .lines()
        .map(|l| l.split_whitespace().skip(4).count())
        .sum();
    assert_eq!(links.len() * 2, ends_in_list, "{list}");
    let mut seen = BTreeSet::new();
    for link in &links {
        let from = link.attribute("data-from").expect("data-from");
        let dir = link.attribute("data-dir").expect("data-dir");
        let to = link.attribute("data-to").expect("data-to");
        let (from_line, to_line) = (grid.listed(from), grid.listed(to));
        assert!(
            from_line.contains(&format!(" {dir}:")),
            "{from} has no wire {dir}: {from_line}"
        );
        let back = opposite(dir);
        assert!(
            to_line.contains(&format!(" {back}:")),
            "{to} has no wire {back}: {to_line}"
        );
        assert!(seen.insert((from, dir)), "{from} {dir} drawn twice");
        assert!(seen.insert((to, back)), "{to} {back} drawn twice");
        let state = link.attribute("class").unwrap().trim_start_matches("link ");
        if (from, dir) == ("r1c1", "SE") {
            assert_eq!(to, "r2c2");
            assert_eq!(state, "cut");
            let label = link.descendants().find(|n| n.has_tag_name("text"));
            assert_eq!(label.and_then(|n| n.text()), Some("cut"));
        } else {
            assert_eq!(state, "up", "{from} {dir} {to}");
            // Hellos every 100 ms cross every wire: a rate per second.
            let label = link
                .descendants()
                .find(|n| n.has_tag_name("text"))
                .and_then(|n| n.text())
                .unwrap_or_else(|| panic!("{from} {dir}: no rate"));
            if (from, dir) == ("r0c0", "ET") {
                assert!(
                    label.contains("/s ") && label.ends_with(" drops"),
                    "{label:?}"
                );
                let drops: u64 = label
                    .trim_end_matches(" drops")
                    .rsplit(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                assert!(drops >= 4, "{from} {dir}: {label:?}");
            } else {
                assert!(label.ends_with("/s"), "{from} {dir}: {label:?}");
            }
        }
    }
    assert_eq!(
        links
            .iter()
            .filter(|n| n.attribute("class") == Some("link cut"))
            .count(),
        1
    );
    let r0c1 = tiles
        .iter()
        .find(|n| n.attribute("data-name") == Some("r0c1"))
        .unwrap();
    let shown: Vec<&str> = r0c1.descendants().filter_map(|n| n.text()).collect();
    assert!(
        shown.iter().any(|t| t
            .rsplit("drops ")
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| n >= 4)),
        "r0c1 shows no drops: {shown:?}"
    );
    let title = doc.descendants().find(|n| n.has_tag_name("title")).unwrap();
    assert!(
        title.text().unwrap().contains("3x3 grid"),
        "{:?}",
        title.text()
    );
}

#[test]
fn a_snapshot_goes_to_stdout_with_dash() {
    let grid = Grid::start("stdout", 1, 2);
    let out = Command::new(TILE_SIM)
        .args(["snapshot", "--interval", "0", "-o", "-", "--dir"])
        .arg(&grid.dir)
        .stdin(Stdio::null())
        .output()
        .expect("run tile-sim snapshot");
    assert!(out.status.success(), "snapshot: {out:?}");
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let tiles = doc
        .descendants()
        .filter(|n| n.attribute("class").is_some_and(|c| c.starts_with("tile ")))
        .count();
    assert_eq!(tiles, 2);
}

#[test]
fn without_a_grid_snapshot_exits_2_and_writes_nothing() {
    let base = scratch("snap-none");
    let file = base.join("grid.svg");
    let out = Command::new(TILE_SIM)
        .args(["snapshot", "--dir"])
        .arg(base.join("nothing"))
        .arg("-o")
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("run tile-sim snapshot");
    let written = file.exists();
    let _ = fs::remove_dir_all(&base);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no tile-sim running at"));
    assert!(!written, "a file was written");
}
