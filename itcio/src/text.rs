//! The generated text files: `itc/status`, `itc/self`, `tile/<D>/status`.
//!
//! `tile/<D>/status` and `itc/self` are `key: value` lines, one key per
//! line, stable names, so scripts can `grep` or parse them; `itc/status`
//! is a table for people, one row per direction.

use std::fmt::Write;
use std::time::SystemTime;

use crate::stats::DropReason;
use crate::tile::Tile;
use itc_proto::Dir;

/// The version reported in `itc/self`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `s` made safe for one line of a status file or a log: a backslash
/// becomes `\\`, tab, newline and carriage return `\t`, `\n`, `\r`,
/// and every other control character `\xHH` (C0 and DEL) or `\u{HHHH}`
/// (C1, and U+2028 and U+2029, which some readers take as line breaks).
/// A neighbour's name and physics id come from its hellos, so they are
/// untrusted: raw, a newline would forge a line and an escape sequence
/// would drive the reader's terminal.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() && u32::from(c) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            // C1 controls, and the line and paragraph separators that
            // some readers break lines at.
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `compatible`, `incompatible` or `unknown` for the neighbour at `dir`.
pub fn physics_word(tile: &Tile, dir: Dir) -> &'static str {
    let n = tile.neighbour(dir);
    match n.physics() {
        _ if !n.present() => "unknown",
        None => "unknown",
        Some(p) if p == tile.physics() => "compatible",
        Some(_) => "incompatible",
    }
}

/// `tile/<D>/status`.
pub fn dir_status(tile: &Tile, dir: Dir) -> Vec<u8> {
    let n = tile.neighbour(dir);
    let s = tile.stats(dir);
    let mut out = String::new();
    let _ = writeln!(out, "dir: {dir}");
    let _ = writeln!(out, "link: {}", if n.link_up() { "up" } else { "down" });
    let _ = writeln!(
        out,
        "peer: {}",
        if n.present() { "present" } else { "absent" }
    );
    let _ = writeln!(out, "peer_name: {}", one_line(n.name()));
    // The id itself, so an empty id is an empty value (also before any
    // hello; `physics: unknown` tells that apart). No placeholder such as
    // "(none)": it would be a valid id.
    let _ = writeln!(out, "peer_physics: {}", one_line(n.physics().unwrap_or("")));
    let _ = writeln!(out, "physics: {}", physics_word(tile, dir));
    let _ = writeln!(out, "since: {}", rfc3339(n.since()));
    let _ = writeln!(out, "rx_mfm_packets: {}", s.rx_mfm.packets);
    let _ = writeln!(out, "rx_mfm_bytes: {}", s.rx_mfm.bytes);
    let _ = writeln!(out, "rx_svc_packets: {}", s.rx_svc.packets);
    let _ = writeln!(out, "rx_svc_bytes: {}", s.rx_svc.bytes);
    let _ = writeln!(out, "tx_mfm_packets: {}", s.tx_mfm.packets);
    let _ = writeln!(out, "tx_mfm_bytes: {}", s.tx_mfm.bytes);
    let _ = writeln!(out, "tx_svc_packets: {}", s.tx_svc.packets);
    let _ = writeln!(out, "tx_svc_bytes: {}", s.tx_svc.bytes);
    let _ = writeln!(out, "hellos: {}", s.hellos);
    let _ = writeln!(out, "overruns: {}", s.overruns);
    let _ = writeln!(out, "frame_errors: {}", s.frame_errors);
    let _ = writeln!(out, "timeouts: {}", s.timeouts);
    for reason in DropReason::ALL {
        let _ = writeln!(out, "drop_{}: {}", reason.name(), s.drops(reason));
    }
    out.into_bytes()
}

/// `itc/status`: one row per direction.
pub fn itc_status(tile: &Tile) -> Vec<u8> {
    let names: Vec<String> = Dir::ALL
        .iter()
        .map(|&dir| match tile.neighbour(dir).name() {
            "" => "-".to_string(),
            name => one_line(name),
        })
        .collect();
    // The name column fits the longest name, so the columns stay aligned.
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(16);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<3} {:<4} {:<7} {:<width$} {:<12} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "dir",
        "link",
        "peer",
        "name",
        "physics",
        "rx_pkts",
        "rx_bytes",
        "tx_pkts",
        "tx_bytes",
        "drops"
    );
    for (dir, name) in Dir::ALL.into_iter().zip(names) {
        let n = tile.neighbour(dir);
        let s = tile.stats(dir);
        let _ = writeln!(
            out,
            "{:<3} {:<4} {:<7} {:<width$} {:<12} {:>10} {:>10} {:>10} {:>10} {:>8}",
            dir.name(),
            if n.link_up() { "up" } else { "down" },
            if n.present() { "present" } else { "absent" },
            name,
            physics_word(tile, dir),
            s.rx_mfm.packets + s.rx_svc.packets,
            s.rx_mfm.bytes + s.rx_svc.bytes,
            s.tx_mfm.packets + s.tx_svc.packets,
            s.tx_mfm.bytes + s.tx_svc.bytes,
            s.total_drops(),
        );
    }
    out.into_bytes()
}

/// `itc/self`.
pub fn self_info(tile: &Tile) -> Vec<u8> {
    let t = tile.tile_stats();
    let mut out = String::new();
    let _ = writeln!(out, "name: {}", one_line(&tile.config().name));
    let _ = writeln!(out, "physics: {}", one_line(tile.physics()));
    let _ = writeln!(out, "version: {VERSION}");
    let _ = writeln!(out, "pid: {}", std::process::id());
    let _ = writeln!(out, "started: {}", rfc3339(tile.started_wall()));
    let _ = writeln!(out, "uptime: {}", tile.uptime().as_secs());
    let _ = writeln!(
        out,
        "hello_interval_ms: {}",
        tile.config().hello_interval.as_millis()
    );
    let _ = writeln!(
        out,
        "absent_after_ms: {}",
        tile.config().absent_after.as_millis()
    );
    for pru in itc_proto::Pru::ALL {
        let i = pru.index();
        let _ = writeln!(
            out,
            "pru{i}: {}",
            if tile.pru_up(pru) { "open" } else { "closed" }
        );
        let _ = writeln!(out, "pru{i}_opens: {}", t.pru_opens[i]);
        let _ = writeln!(out, "pru{i}_malformed: {}", t.pru_malformed[i]);
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_escapes_control_characters_and_backslashes() {
        assert_eq!(one_line("r0c1 ok"), "r0c1 ok");
        assert_eq!(one_line("a\nb\tc\r"), "a\\nb\\tc\\r");
        assert_eq!(one_line("\x1b[2J\x7f\0"), "\\x1b[2J\\x7f\\x00");
        assert_eq!(one_line("\u{85}x\u{2028}"), "\\u{0085}x\\u{2028}");
        assert_eq!(one_line("back\\slash"), "back\\\\slash");
        assert_eq!(one_line("gr\u{fc}n"), "gr\u{fc}n", "printable text stays");
    }
}
