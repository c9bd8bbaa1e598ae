//! The generated text files: `itc/status`, `itc/self`, `tile/<D>/status`.
//!
//! `tile/<D>/status` and `itc/self` are `key: value` lines, one key per
//! line, stable names, so scripts can `grep` or parse them; `itc/status`
//! is a table for people, one row per direction.
//!
//! Rendered from plain values (a direction's [`Neighbour`] and
//! [`DirStats`], this tile's physics id, a [`SelfInfo`]), never from the
//! tile that holds them.

use std::fmt::Write;
use std::time::{Duration, SystemTime};

use crate::neighbour::Neighbour;
use crate::stats::{DirStats, DropReason, TileStats};
use itc_proto::{Dir, Pru};

/// The version reported in `itc/self`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The format characters (Unicode general category Cf, as of Unicode
/// 15.1): invisible, and some reorder the text around them (U+202E, right
/// to left override, shows `abc` as `cba`).
const FORMAT_CHARS: &[(char, char)] = &[
    ('\u{00ad}', '\u{00ad}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061c}', '\u{061c}'),
    ('\u{06dd}', '\u{06dd}'),
    ('\u{070f}', '\u{070f}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08e2}', '\u{08e2}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0001}', '\u{e0001}'),
    ('\u{e0020}', '\u{e007f}'),
];

/// Whether `c` is a format character (category Cf).
fn is_format(c: char) -> bool {
    FORMAT_CHARS
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// `s` made safe for one line of a status file or a log: a backslash
/// becomes `\\`, tab, newline and carriage return `\t`, `\n`, `\r`,
/// and every other control character `\xHH` (C0 and DEL) or `\u{HHHH}`
/// (C1, U+2028 and U+2029, which some readers take as line breaks, and
/// the format characters: bidirectional overrides and isolates, zero
/// width characters, and the rest of category Cf). A neighbour's name and
/// physics id come from its hellos, so they are untrusted: raw, a newline
/// would forge a line, an escape sequence would drive the reader's
/// terminal, and a bidirectional override would show text reordered.
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
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' || is_format(c) => {
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

/// `compatible`, `incompatible` or `unknown` for neighbour `n`, given
/// this tile's physics id `ours`.
pub fn physics_word(n: &Neighbour, ours: &str) -> &'static str {
    match n.physics() {
        _ if !n.present() => "unknown",
        None => "unknown",
        Some(p) if p == ours => "compatible",
        Some(_) => "incompatible",
    }
}

/// `tile/<D>/status`: neighbour `n` and counters `s` of `dir`, given this
/// tile's physics id `ours`.
pub fn dir_status(dir: Dir, n: &Neighbour, s: &DirStats, ours: &str) -> Vec<u8> {
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
    let _ = writeln!(out, "physics: {}", physics_word(n, ours));
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
    let _ = writeln!(out, "sync_losses: {}", s.sync_losses);
    let _ = writeln!(out, "timeouts: {}", s.timeouts);
    for reason in DropReason::ALL {
        let _ = writeln!(out, "drop_{}: {}", reason.name(), s.drops(reason));
    }
    out.into_bytes()
}

/// `itc/status`: one row per direction, from each direction's neighbour
/// and counters in [`Dir::ALL`] order, given this tile's physics id `ours`.
pub fn itc_status(rows: [(&Neighbour, &DirStats); 6], ours: &str) -> Vec<u8> {
    let names: Vec<String> = rows
        .iter()
        .map(|(n, _)| match n.name() {
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
    for ((dir, (n, s)), name) in Dir::ALL.into_iter().zip(rows).zip(names) {
        let _ = writeln!(
            out,
            "{:<3} {:<4} {:<7} {:<width$} {:<12} {:>10} {:>10} {:>10} {:>10} {:>8}",
            dir.name(),
            if n.link_up() { "up" } else { "down" },
            if n.present() { "present" } else { "absent" },
            name,
            physics_word(n, ours),
            s.rx_mfm.packets + s.rx_svc.packets,
            s.rx_mfm.bytes + s.rx_svc.bytes,
            s.tx_mfm.packets + s.tx_svc.packets,
            s.tx_mfm.bytes + s.tx_svc.bytes,
            s.total_drops(),
        );
    }
    out.into_bytes()
}

/// What `itc/self` shows.
#[derive(Debug, Clone, Copy)]
pub struct SelfInfo<'a> {
    /// This tile's name.
    pub name: &'a str,
    /// This tile's physics id.
    pub physics: &'a str,
    /// Wall-clock start time.
    pub started: SystemTime,
    /// Time since start.
    pub uptime: Duration,
    /// Mean time between hellos.
    pub hello_interval: Duration,
    /// Silence after which a neighbour is absent.
    pub absent_after: Duration,
    /// Whether each PRU device is open.
    pub pru_open: [bool; 2],
    /// The PRUs' counters.
    pub stats: &'a TileStats,
}

/// `itc/self`.
pub fn self_info(info: &SelfInfo<'_>) -> Vec<u8> {
    let t = info.stats;
    let mut out = String::new();
    let _ = writeln!(out, "name: {}", one_line(info.name));
    let _ = writeln!(out, "physics: {}", one_line(info.physics));
    let _ = writeln!(out, "version: {VERSION}");
    let _ = writeln!(out, "pid: {}", std::process::id());
    let _ = writeln!(out, "started: {}", rfc3339(info.started));
    let _ = writeln!(out, "uptime: {}", info.uptime.as_secs());
    let _ = writeln!(
        out,
        "hello_interval_ms: {}",
        info.hello_interval.as_millis()
    );
    let _ = writeln!(out, "absent_after_ms: {}", info.absent_after.as_millis());
    for pru in Pru::ALL {
        let i = pru.index();
        let _ = writeln!(
            out,
            "pru{i}: {}",
            if info.pru_open[i] { "open" } else { "closed" }
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

    #[test]
    fn one_line_escapes_bidi_and_other_format_characters() {
        // A right to left override would show "r0c1" as "1c0r".
        assert_eq!(one_line("\u{202e}r0c1"), "\\u{202e}r0c1");
        assert_eq!(
            one_line("a\u{2066}b\u{2069}\u{200b}\u{feff}\u{ad}"),
            "a\\u{2066}b\\u{2069}\\u{200b}\\u{feff}\\u{00ad}"
        );
        assert_eq!(one_line("\u{e0041}"), "\\u{e0041}", "a tag character");
        // Every range, at both ends and just outside.
        for &(lo, hi) in FORMAT_CHARS {
            for c in [lo, hi] {
                assert_eq!(
                    one_line(&c.to_string()),
                    format!("\\u{{{:04x}}}", u32::from(c))
                );
            }
        }
        assert!(FORMAT_CHARS.windows(2).all(|w| w[0].1 < w[1].0), "sorted");
        assert_eq!(one_line("\u{2065}\u{fffc}"), "\u{2065}\u{fffc}", "not Cf");
    }
}
