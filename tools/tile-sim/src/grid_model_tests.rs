//! Tests of [`super`]: parsing `ctl list`, states of wires, rates.

use std::time::Duration;

use super::*;

fn status(link_up: bool, present: bool, physics: Physics, rx: u64, tx: u64) -> EndStatus {
    EndStatus {
        link_up,
        peer_present: present,
        peer_name: String::new(),
        physics,
        rx_packets: rx,
        tx_packets: tx,
        drops: 0,
    }
}

/// A 1x2 grid, both tiles running, the wire between them read at both ends.
fn pair(a: EndStatus, b: EndStatus) -> Grid {
    let listed = [
        parse_list_line("r0c0 10 running /g/r0c0 ET:up").unwrap(),
        parse_list_line("r0c1 11 running /g/r0c1 WT:up").unwrap(),
    ];
    let mut grid = Grid::from_listed(&listed).unwrap();
    grid.tiles[0].ends[Dir::ET.index()].as_mut().unwrap().status = Some(a);
    grid.tiles[1].ends[Dir::WT.index()].as_mut().unwrap().status = Some(b);
    grid
}

fn sample(grid: Grid, at: Instant) -> Sample {
    Sample {
        grid,
        taken: at,
        wall: SystemTime::now(),
    }
}

#[test]
fn parses_list_lines() {
    let l = parse_list_line("r1c0        22013 running  /tmp/grid/r1c0 ET:up NE:down").unwrap();
    assert_eq!(l.name, "r1c0");
    assert_eq!(l.pos, (1, 0));
    assert_eq!(l.pid, Some(22013));
    assert_eq!(l.state, "running");
    assert_eq!(l.cut[Dir::ET.index()], Some(false));
    assert_eq!(l.cut[Dir::NE.index()], Some(true));
    assert_eq!(l.cut[Dir::SE.index()], None);
    // A stopped tile, and a column added later: still understood.
    let l = parse_list_line("r0c1 - 4242 stopped /tmp/a b/r0c1 SW:up").unwrap();
    assert_eq!(l.pid, None);
    assert_eq!(l.state, "stopped");
    assert_eq!(l.cut[Dir::SW.index()], Some(false));
    assert!(parse_list_line("").is_err());
    assert!(parse_list_line("tile7 1 running /x").is_err());
    assert!(parse_list_line("r0c0 1 dancing /x").is_err());
}

#[test]
fn parses_names() {
    assert_eq!(parse_name("r0c0"), Some((0, 0)));
    assert_eq!(parse_name("r12c3"), Some((12, 3)));
    for bad in [
        "", "r", "rc", "r1c", "rc1", "r1x2", "r-1c0", "R1C1", "r1c1x",
    ] {
        assert_eq!(parse_name(bad), None, "{bad}");
    }
}

#[test]
fn a_grid_must_be_a_full_rectangle() {
    let one = parse_list_line("r0c0 1 running /g ET:up").unwrap();
    let far = parse_list_line("r1c1 2 running /g WT:up").unwrap();
    assert!(Grid::from_listed(&[one.clone(), far]).is_err());
    assert!(Grid::from_listed(&[one.clone(), one.clone()]).is_err());
    assert!(Grid::from_listed(&[]).is_err());
    let grid = Grid::from_listed(&[one]).unwrap();
    assert_eq!((grid.rows, grid.cols), (1, 1));
}

#[test]
fn file_lines_go_to_the_tiles_they_name() {
    let mut grid = pair(
        status(true, true, Physics::Compatible, 0, 0),
        status(true, true, Physics::Compatible, 0, 0),
    );
    let lines: Vec<String> = [
        "name version progress",
        "r0c1 map.bin v3 12/40",
        "  physics v7 done",
        "r0c0",
        "r0c0 map.bin v3 done\x1b[2J",
    ]
    .map(String::from)
    .to_vec();
    grid.set_files(&lines);
    assert!(grid.files);
    assert_eq!(grid.tiles[1].files, ["map.bin v3 12/40", "physics v7 done"]);
    assert_eq!(grid.tiles[0].files, ["map.bin v3 done?[2J"]);
}

#[test]
fn a_wire_shows_the_more_telling_end() {
    let up = || status(true, true, Physics::Compatible, 0, 0);
    let state = |grid: Grid| Picture::new(sample(grid, Instant::now()), None).links()[0].state;
    assert_eq!(state(pair(up(), up())), LinkState::Up);
    assert_eq!(
        state(pair(up(), status(true, true, Physics::Incompatible, 0, 0))),
        LinkState::Incompatible
    );
    assert_eq!(
        state(pair(status(true, false, Physics::Unknown, 0, 0), up())),
        LinkState::NoPeer
    );
    assert_eq!(
        state(pair(status(false, false, Physics::Unknown, 0, 0), up())),
        LinkState::Down
    );
    let mut cut = pair(up(), up());
    cut.tiles[0].ends[Dir::ET.index()].as_mut().unwrap().cut = true;
    assert_eq!(state(cut), LinkState::Cut);
    // One end unread (its tile stopped): the other end decides.
    let mut half = pair(up(), status(true, false, Physics::Unknown, 0, 0));
    half.tiles[0].ends[Dir::ET.index()].as_mut().unwrap().status = None;
    assert_eq!(state(half.clone()), LinkState::NoPeer);
    half.tiles[1].ends[Dir::WT.index()].as_mut().unwrap().status = None;
    assert_eq!(state(half), LinkState::Unknown);
}

#[test]
fn rates_are_counter_differences_per_second() {
    let t0 = Instant::now();
    let t1 = t0 + Duration::from_millis(500);
    let before = sample(
        pair(
            status(true, true, Physics::Compatible, 100, 200),
            status(true, true, Physics::Compatible, 200, 100),
        ),
        t0,
    );
    let after = sample(
        pair(
            status(true, true, Physics::Compatible, 110, 250),
            status(true, true, Physics::Compatible, 250, 110),
        ),
        t1,
    );
    let first = Picture::new(before.clone(), None);
    assert_eq!(first.links()[0].rate, None);
    let p = Picture::new(after.clone(), Some(&before));
    assert_eq!(
        p.rate((0, 0), Dir::ET),
        Some(Rate {
            rx: 20.0,
            tx: 100.0
        })
    );
    // Both ways: what each end sent.
    assert_eq!(p.links()[0].rate, Some(120.0));
    // A counter that went back (itcd restarted) gives no rate there.
    let mut restarted = after.clone();
    restarted.taken = t1 + Duration::from_secs(1);
    let st = restarted.grid.tiles[1].ends[Dir::WT.index()]
        .as_mut()
        .unwrap();
    st.status.as_mut().unwrap().rx_packets = 3;
    let p = Picture::new(restarted, Some(&after));
    assert_eq!(p.rate((0, 1), Dir::WT), None);
    // The far end alone: its own packets both ways.
    assert_eq!(p.links()[0].rate, Some(0.0));
}

#[test]
fn rates_fit_four_characters() {
    for (rate, text) in [
        (0.0, "0"),
        (0.4, "0"),
        (12.3, "12"),
        (999.0, "999"),
        (1234.0, "1.2k"),
        (9_999.0, "10k"),
        (123_456.0, "123k"),
        (1_234_567.0, "1.2M"),
        (98_765_432.0, "99M"),
        (-5.0, "0"),
    ] {
        let shown = format_rate(rate);
        assert_eq!(shown, text, "{rate}");
        assert!(shown.len() <= 4);
    }
}
