//! Text for people from the daemon's status: sizes, rates and times in
//! short units, the `list` table, the `status` report and one progress line
//! per fetch. No I/O.

use itc_files::control::{Fetch, FileStatus, Status};

/// `n` bytes in short units: `512 B`, `1.5 KiB`, `14.3 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// A rate in bytes per second: `286.1 KiB/s`.
pub fn rate(per_sec: f64) -> String {
    format!("{}/s", bytes(per_sec.max(0.0) as u64))
}

/// Seconds as `42s`, `3m05s`, `2h01m`.
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// What a fetch is at, in one line: pieces, rate, time left, sources.
pub fn progress(f: &Fetch) -> String {
    let mut line = match f.state.as_str() {
        "manifest" => "fetching the manifest".to_string(),
        "waiting" => "waiting for disk space".to_string(),
        _ => format!("{}/{} pieces", f.pieces, f.total),
    };
    if f.rate > 0.0 {
        line.push_str(&format!(", {}", rate(f.rate)));
    }
    if let Some(eta) = f.eta_secs {
        line.push_str(&format!(", {} left", duration(eta)));
    }
    if f.sources.is_empty() {
        line.push_str(", no source");
    } else {
        line.push_str(&format!(", from {}", f.sources.join(" ")));
    }
    if let Some(e) = &f.error {
        line.push_str(&format!(" ({e})"));
    }
    line
}

/// Where a name stands, in a few words.
fn state(f: &FileStatus) -> String {
    match (&f.live, &f.fetch, f.deleted) {
        (_, Some(fetch), _) => format!("fetching v{}", fetch.version),
        (Some(_), None, _) => "live".to_string(),
        (None, None, Some(v)) => format!("deleted up to v{v}"),
        (None, None, None) => "-".to_string(),
    }
}

/// The `list` table: one line per name.
pub fn list(s: &Status) -> Vec<String> {
    let mut out = vec![format!(
        "{:<24} {:>12} {:>10}  {}",
        "NAME", "VERSION", "SIZE", "STATE"
    )];
    for f in &s.files {
        let (version, size) = match &f.live {
            Some(l) => (l.version.to_string(), bytes(l.length)),
            None => ("-".to_string(), "-".to_string()),
        };
        out.push(format!(
            "{:<24} {:>12} {:>10}  {}",
            f.name,
            version,
            size,
            state(f)
        ));
    }
    out
}

/// The `status` report for people.
pub fn status(s: &Status) -> Vec<String> {
    let mut out = vec![
        format!("store: {}", s.store),
        format!(
            "tree: {} ({})",
            s.mount,
            if s.online { "online" } else { "offline" }
        ),
        format!(
            "neighbours: {}",
            if s.neighbours.is_empty() {
                "none".to_string()
            } else {
                s.neighbours.join(" ")
            }
        ),
        format!(
            "trusted keys: {}",
            if s.keys.is_empty() {
                "none (nothing is accepted)".to_string()
            } else {
                s.keys.join(" ")
            }
        ),
        format!("uptime: {}", duration(s.uptime_secs as f64)),
    ];
    for e in &s.errors {
        out.push(format!("error: {e}"));
    }
    out.push(String::new());
    if s.files.is_empty() {
        out.push("no files".to_string());
    }
    for f in &s.files {
        let mut line = format!("{}: ", f.name);
        match &f.live {
            Some(l) => line.push_str(&format!("live v{} ({})", l.version, bytes(l.length))),
            None => line.push_str("not live"),
        }
        if let Some(d) = f.deleted {
            line.push_str(&format!(", deleted up to v{d}"));
        }
        if let Some(h) = &f.hook {
            line.push_str(&format!(", hook v{}: {}", h.version, h.status));
        }
        out.push(line);
        if let Some(fetch) = &f.fetch {
            out.push(format!(
                "  fetching v{}: {}",
                fetch.version,
                progress(fetch)
            ));
        }
    }
    out.push(String::new());
    let nonzero = |m: &std::collections::BTreeMap<String, u64>| -> String {
        let v: Vec<String> = m
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(" ")
        }
    };
    out.push(format!("counters: {}", nonzero(&s.counters)));
    out.push(format!("bad input: {}", nonzero(&s.bad_input)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use itc_files::control::Live;

    #[test]
    fn units_are_short() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(15 << 20), "15.0 MiB");
        assert_eq!(rate(2048.0), "2.0 KiB/s");
        assert_eq!(duration(42.2), "42s");
        assert_eq!(duration(185.0), "3m05s");
        assert_eq!(duration(7260.0), "2h01m");
    }

    #[test]
    fn progress_names_pieces_rate_time_and_sources() {
        let f = Fetch {
            version: 3,
            state: "pieces".into(),
            pieces: 10,
            total: 40,
            rate: 4096.0,
            eta_secs: Some(12.0),
            sources: vec!["ET".into(), "SW".into()],
            ..Fetch::default()
        };
        assert_eq!(
            progress(&f),
            "10/40 pieces, 4.0 KiB/s, 12s left, from ET SW"
        );
    }

    #[test]
    fn list_has_a_header_and_a_line_per_name() {
        let s = Status {
            files: vec![FileStatus {
                name: "a.mfz".into(),
                live: Some(Live {
                    version: 7,
                    length: 2048,
                    ..Live::default()
                }),
                ..FileStatus::default()
            }],
            ..Status::default()
        };
        let lines = list(&s);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].starts_with("a.mfz"));
        assert!(lines[1].contains("2.0 KiB") && lines[1].ends_with("live"));
    }
}
