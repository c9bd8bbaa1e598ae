//! `itc status [--json]`: the six directions at a glance.
//!
//! Reads `itc/status` (which directions the tree lists, in its order),
//! `itc/self` (this tile's name and physics) and each `tile/<D>/status`
//! (the row's values). Per direction: link, peer, peer name, physics
//! compatibility, packets received and sent, drops of every reason, and for
//! a present peer how long ago it became present.
//!
//! Names and physics ids come escaped to one line (a backslash doubled,
//! controls as `\n` or `\xNN`); the table shows them so, the JSON gives the
//! strings themselves. An empty physics id is an empty value in the
//! files and `""` in the JSON; the table's title shows it as `(none)`.
//!
//! `since` in `tile/<D>/status` is the time of the last presence change,
//! or `itcd`'s start when there never was one. The JSON gives it only for
//! a direction that has had a neighbour (one is present, or hellos came),
//! and `null` for one that never had any, so it never passes a start time
//! off as a neighbour's coming or going.

use std::time::{Duration, SystemTime};

use itc_proto::Dir;

use crate::errors::Error;
use crate::text_file::{self, KeyValues};
use crate::tree::Tree;
use crate::{json, output, show};

/// One direction's row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    dir: Dir,
    link: String,
    peer: String,
    name: String,
    physics: String,
    /// The neighbour's physics id, escaped as in the status file.
    peer_physics: String,
    rx_packets: u64,
    tx_packets: u64,
    drops: u64,
    /// The last presence change, if there ever was one.
    since: Option<String>,
    /// Time since `since`, for a present peer.
    age: Option<Duration>,
}

/// The whole status.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Status {
    tile: String,
    physics: String,
    rows: Vec<Row>,
}

/// Runs `itc status`.
pub fn run(tree: &Tree, as_json: bool) -> Result<u8, Error> {
    let status = gather(tree)?;
    if as_json {
        output::line(&to_json(&status))?;
    } else {
        for l in to_table(&status) {
            output::line(&l)?;
        }
    }
    Ok(0)
}

/// The table `itc status` prints, as lines (for `itc status --watch`).
pub fn table(tree: &Tree) -> Result<Vec<String>, Error> {
    gather(tree).map(|status| to_table(&status))
}

fn gather(tree: &Tree) -> Result<Status, Error> {
    let mount = tree.root();
    let table_path = tree.status();
    let table = text_file::read(&table_path, mount)?;
    let me = KeyValues::read(&tree.self_info(), mount)?;
    let dirs = listed_dirs(&table);
    if dirs.is_empty() {
        return Err(Error::Malformed {
            path: table_path,
            what: "no direction rows".to_string(),
        });
    }
    let now = SystemTime::now();
    let rows = dirs
        .into_iter()
        .map(|dir| row(tree, dir, now))
        .collect::<Result<_, _>>()?;
    Ok(Status {
        tile: me.require("name")?.to_string(),
        physics: me.require("physics")?.to_string(),
        rows,
    })
}

/// The directions named in the first column of `itc/status`.
fn listed_dirs(table: &str) -> Vec<Dir> {
    table
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|w| Dir::ALL.into_iter().find(|d| d.name() == w))
        .collect()
}

fn row(tree: &Tree, dir: Dir, now: SystemTime) -> Result<Row, Error> {
    let kv = KeyValues::read(&tree.dir_status(dir), tree.root())?;
    let peer = kv.require("peer")?.to_string();
    let since = kv.require("since")?.to_string();
    let present = peer == "present";
    // Presence needs a hello: without one, `since` is itcd's start.
    let had_neighbour = present || kv.number("hellos")? > 0;
    let age = present
        .then(|| humantime::parse_rfc3339(&since).ok())
        .flatten()
        .map(|t| now.duration_since(t).unwrap_or_default());
    Ok(Row {
        dir,
        link: kv.require("link")?.to_string(),
        peer,
        name: kv.require("peer_name")?.to_string(),
        physics: kv.require("physics")?.to_string(),
        peer_physics: kv.require("peer_physics")?.to_string(),
        rx_packets: kv.number("rx_mfm_packets")? + kv.number("rx_svc_packets")?,
        tx_packets: kv.number("tx_mfm_packets")? + kv.number("tx_svc_packets")?,
        drops: kv.sum_prefixed("drop_"),
        since: had_neighbour.then_some(since),
        age,
    })
}

/// `-` for an empty field, so columns stay aligned and splittable.
fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

fn to_table(status: &Status) -> Vec<String> {
    let header = [
        "dir", "link", "peer", "name", "physics", "rx", "tx", "drops", "since",
    ];
    // Columns 5..8 hold numbers and are right-aligned.
    let numeric = |i: usize| (5..8).contains(&i);
    let mut cells: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for r in &status.rows {
        cells.push(vec![
            r.dir.name().to_string(),
            r.link.clone(),
            r.peer.clone(),
            or_dash(&r.name).to_string(),
            r.physics.clone(),
            r.rx_packets.to_string(),
            r.tx_packets.to_string(),
            r.drops.to_string(),
            r.age.map_or_else(|| "-".to_string(), show::age),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut lines = vec![format!(
        "tile {}  physics {}",
        or_dash(&status.tile),
        show::physics_id(&status.physics)
    )];
    for row in &cells {
        let fields: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if numeric(i) {
                    format!("{c:>w$}", w = widths[i])
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        lines.push(fields.join("  ").trim_end().to_string());
    }
    lines
}

fn to_json(status: &Status) -> String {
    let rows: Vec<String> = status
        .rows
        .iter()
        .map(|r| {
            json::object(&[
                ("dir", json::string(r.dir.name())),
                ("link", json::string(&r.link)),
                ("peer", json::string(&r.peer)),
                ("name", json::string(&text_file::unescape(&r.name))),
                ("physics", json::string(&r.physics)),
                (
                    "peer_physics",
                    json::string(&text_file::unescape(&r.peer_physics)),
                ),
                ("rx_packets", r.rx_packets.to_string()),
                ("tx_packets", r.tx_packets.to_string()),
                ("drops", r.drops.to_string()),
                ("since", json::opt_string(r.since.as_deref())),
                ("age_secs", json::opt_number(r.age.map(|a| a.as_secs()))),
            ])
        })
        .collect();
    json::object(&[
        ("tile", json::string(&text_file::unescape(&status.tile))),
        (
            "physics",
            json::string(&text_file::unescape(&status.physics)),
        ),
        ("dirs", json::array(&rows)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        Status {
            tile: "r0c0".into(),
            physics: String::new(),
            rows: vec![
                Row {
                    dir: Dir::ET,
                    link: "up".into(),
                    peer: "present".into(),
                    name: "r0c1".into(),
                    physics: "compatible".into(),
                    peer_physics: String::new(),
                    rx_packets: 21,
                    tx_packets: 1234,
                    drops: 0,
                    since: Some("2026-11-22T00:55:58Z".into()),
                    age: Some(Duration::from_secs(75)),
                },
                Row {
                    dir: Dir::SE,
                    link: "down".into(),
                    peer: "absent".into(),
                    name: String::new(),
                    physics: "unknown".into(),
                    peer_physics: String::new(),
                    rx_packets: 0,
                    tx_packets: 0,
                    drops: 3,
                    since: None,
                    age: None,
                },
            ],
        }
    }

    #[test]
    fn table_is_aligned() {
        let t = to_table(&sample());
        assert_eq!(t[0], "tile r0c0  physics (none)");
        assert_eq!(
            t[1],
            "dir  link  peer     name  physics     rx    tx  drops  since"
        );
        assert_eq!(
            t[2],
            "ET   up    present  r0c1  compatible  21  1234      0  1m15s"
        );
        assert_eq!(
            t[3],
            "SE   down  absent   -     unknown      0     0      3  -"
        );
    }

    #[test]
    fn json_has_the_same_fields() {
        let j = to_json(&sample());
        assert!(j.starts_with("{\"tile\":\"r0c0\",\"physics\":\"\",\"dirs\":[{\"dir\":\"ET\""));
        assert!(j.contains("\"name\":\"r0c1\""));
        assert!(j.contains("\"age_secs\":75}"));
        assert!(j.contains("\"name\":\"\""));
        assert!(j.contains("\"since\":\"2026-11-22T00:55:58Z\""));
        assert!(j.contains("\"since\":null"));
        assert!(j.ends_with("\"age_secs\":null}]}"));
    }

    #[test]
    fn lists_directions_from_the_table() {
        let table = "dir link peer\nET  up   present\nSE  down absent\nbogus\n5 x\n";
        assert_eq!(listed_dirs(table), vec![Dir::ET, Dir::SE]);
    }
}
