//! Reads a running grid into a [`Sample`]: the tiles and their wires from
//! `ctl list` over the control socket ([`crate::client`]), each running
//! tile's `DIR/r{row}c{col}/itc/self` and `tile/<D>/status`, and the file
//! service's lines from [`grid_files`].
//!
//! Fails only when the grid does not answer `ctl list` (or answers
//! something that is not a grid); a tile whose tree cannot be read is
//! drawn without its counters, with the reason in [`Tile::problem`].
//!
//! A status file is read with plain `read(2)`s: a tile whose `itcd` hangs
//! (stopped with SIGSTOP) holds the read, and so the caller, until it
//! goes on or dies. `tile-sim view` therefore reads on a thread of its own.

use std::fs;
use std::path::Path;
use std::time::{Instant, SystemTime};

use itc_proto::Dir;

use crate::client::{self, Failure};
use crate::grid_files;
use crate::grid_model::{parse_list_line, printable, EndStatus, Grid, Physics, Sample, Tile};

/// Takes one look at the grid whose `tile-sim run` has `--dir dir`.
pub fn sample(dir: &Path) -> Result<Sample, Failure> {
    let lines = client::request(dir, "list")?;
    let listed = lines
        .iter()
        .map(|l| parse_list_line(l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::Failed)?;
    let mut grid = Grid::from_listed(&listed).map_err(Failure::Failed)?;
    for tile in &mut grid.tiles {
        if tile.running() {
            read_tree(&dir.join(&tile.name), tile);
        }
    }
    grid_files::read(dir, &mut grid);
    Ok(Sample {
        grid,
        taken: Instant::now(),
        wall: SystemTime::now(),
    })
}

/// Reads `mount/itc/self` and the status of each wired direction into
/// `tile`; the first failure goes to [`Tile::problem`].
fn read_tree(mount: &Path, tile: &mut Tile) {
    let self_path = mount.join("itc").join("self");
    match fs::read_to_string(&self_path) {
        Ok(text) => tile.physics_id = value(&text, "physics").map(printable),
        Err(e) => {
            tile.problem = Some(format!("{}: {e}", self_path.display()));
            return;
        }
    }
    for d in Dir::ALL {
        let Some(end) = tile.ends[d.index()].as_mut() else {
            continue;
        };
        let path = mount.join("tile").join(d.name()).join("status");
        match fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| parse_status(&t))
        {
            Ok(status) => end.status = Some(status),
            Err(e) => {
                tile.problem
                    .get_or_insert(format!("{}: {e}", path.display()));
            }
        }
    }
}

/// The value of `key` in `key: value` lines.
fn value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == key).then(|| v.trim())
    })
}

/// The drawn parts of a `tile/<D>/status` file.
pub fn parse_status(text: &str) -> Result<EndStatus, String> {
    let word = |key: &str| value(text, key).ok_or_else(|| format!("no `{key}:` line"));
    let number = |key: &str| -> Result<u64, String> {
        word(key)?
            .parse()
            .map_err(|_| format!("`{key}:` is not a number"))
    };
    let drops = text
        .lines()
        .filter_map(|l| l.strip_prefix("drop_"))
        .filter_map(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().parse::<u64>().unwrap_or(0))
        .sum();
    Ok(EndStatus {
        link_up: word("link")? == "up",
        peer_present: word("peer")? == "present",
        peer_name: printable(value(text, "peer_name").unwrap_or("")),
        physics: Physics::from_word(word("physics")?),
        rx_packets: number("rx_mfm_packets")? + number("rx_svc_packets")?,
        tx_packets: number("tx_mfm_packets")? + number("tx_svc_packets")?,
        drops,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_status_file() {
        let text = "dir: ET\nlink: up\npeer: present\npeer_name: r0c1\npeer_physics: \n\
                    physics: compatible\nsince: 2026-01-01T00:00:00Z\nrx_mfm_packets: 3\n\
                    rx_mfm_bytes: 30\nrx_svc_packets: 4\nrx_svc_bytes: 40\ntx_mfm_packets: 5\n\
                    tx_mfm_bytes: 50\ntx_svc_packets: 6\ntx_svc_bytes: 60\nhellos: 9\n\
                    drop_no_reader: 1\ndrop_queue_full: 2\n";
        let s = parse_status(text).unwrap();
        assert!(s.link_up && s.peer_present);
        assert_eq!(s.peer_name, "r0c1");
        assert_eq!(s.physics, Physics::Compatible);
        assert_eq!((s.rx_packets, s.tx_packets, s.drops), (7, 11, 3));
        assert!(parse_status("link: up\n").is_err());
    }
}
