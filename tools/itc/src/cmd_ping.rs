//! `itc ping D [-c N] [-i SECS] [-W SECS]`: round-trip times to the
//! neighbour at D through the echo service (service 2), like `ping`.
//!
//! Opens `tile/<D>/svc/02` and writes echo requests
//! `[0x80|dir8, 0x02, 0x01, SEQ (2 bytes, big-endian), TIME (8 bytes)]`,
//! TIME being nanoseconds since the start of this run. The far `itcd`
//! sends the payload back in a reply (op 2); the RTT is now minus TIME.
//! Tile events and anything that is not an echo reply are skipped.
//!
//! A request goes out every interval until `count` are sent (forever
//! without `-c`); after the last, replies are awaited for `-W`. SIGINT
//! ends the run early. The summary follows, and the status is 0 if any
//! reply came, 1 if none. A first request the tree refuses (no
//! neighbour, say) is an error (status 2), as is any I/O error; a later
//! `EHOSTUNREACH` (the neighbour went away) is reported and counted as an
//! error, and the run goes on.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use itc_proto::Dir;
use itc_proto::{EchoOp, EchoRepr, Packet, MAX_PACKET_LEN, SVC_ECHO};
use nix::errno::Errno;

use crate::errors::Error;
use crate::packet_file::{Access, PacketFile, Wait};
use crate::rtt::RttStats;
use crate::text_file::KeyValues;
use crate::tree::{Kind, Tree};
use crate::{holders, output, signals};

/// Bytes of echo payload `itc ping` sends: sequence number and time.
const PAYLOAD_LEN: usize = 10;

/// What `itc ping` was asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The neighbour's direction.
    pub dir: Dir,
    /// Requests to send; forever if none.
    pub count: Option<u64>,
    /// Time between requests.
    pub interval: Duration,
    /// How long to wait for replies after the last request.
    pub wait: Duration,
}

/// The counters of one run.
#[derive(Debug, Default)]
struct Tally {
    sent: u64,
    received: u64,
    duplicates: u64,
    errors: u64,
    rtt: RttStats,
}

/// Runs `itc ping`.
pub fn run(tree: &Tree, opts: Options) -> Result<u8, Error> {
    let dir = opts.dir;
    let status = KeyValues::read(&tree.dir_status(dir), tree.root())?;
    let peer = match status.get("peer_name") {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => "(no neighbour)".to_string(),
    };
    let path = tree.packet_file(Kind::Svc(SVC_ECHO), Some(dir));
    let mut file = PacketFile::open(&path, tree.root(), Access::ReadWrite)?;
    // The echo replies come here, not to a reader of itc/svc/02.
    holders::warn_if_shadowing(tree, Kind::Svc(SVC_ECHO), dir);
    // Printed once the tree accepts the first request.
    let banner = format!(
        "PING {peer} ({dir}) via {}: {PAYLOAD_LEN} data bytes",
        path.display()
    );

    let start = Instant::now();
    let mut tally = Tally::default();
    let mut outstanding: HashSet<u16> = HashSet::new();
    let mut seq: u16 = 1;
    let mut next_send = start;
    let mut last_send = start;
    let mut buf = [0u8; MAX_PACKET_LEN + 1];

    loop {
        if signals::interrupted() {
            break;
        }
        let more_to_send = !matches!(opts.count, Some(c) if tally.sent >= c);
        let now = Instant::now();
        if more_to_send && now >= next_send {
            let request = request(dir, seq, start.elapsed())?;
            match file.send(&request) {
                Ok(Wait::Done(())) => {
                    if tally.sent == 0 {
                        output::line(&banner)?;
                    }
                    outstanding.insert(seq);
                }
                Ok(Wait::TimedOut | Wait::Interrupted) => break,
                Err(e) if tally.sent == 0 => return Err(e),
                // The neighbour went away; it may come back.
                Err(e) if e.errno() == Some(Errno::EHOSTUNREACH) => {
                    eprintln!("itc: {e}");
                    tally.errors += 1;
                }
                Err(e) => return Err(e),
            }
            tally.sent += 1;
            last_send = now;
            seq = seq.wrapping_add(1);
            next_send += opts.interval;
            if next_send < now {
                next_send = now + opts.interval;
            }
        }
        // After a send too, so that replies are read even when the next
        // request is due at once (`-i 0`).
        let more_to_send = !matches!(opts.count, Some(c) if tally.sent >= c);
        let deadline = if more_to_send {
            next_send
        } else if outstanding.is_empty() {
            break;
        } else {
            last_send + opts.wait
        };
        match file.recv(&mut buf, Some(deadline))? {
            Wait::Done(n) => {
                if let Some((seq, rtt)) = reply(&buf[..n], start.elapsed()) {
                    let dup = !outstanding.remove(&seq);
                    if dup {
                        tally.duplicates += 1;
                    } else {
                        tally.received += 1;
                        tally.rtt.add(rtt);
                    }
                    output::line(&format!(
                        "{n} bytes from {peer} ({dir}): seq={seq} time={:.3} ms{}",
                        rtt.as_secs_f64() * 1000.0,
                        if dup { " (DUP!)" } else { "" }
                    ))?;
                }
            }
            Wait::TimedOut => {
                if !more_to_send {
                    break;
                }
            }
            Wait::Interrupted => break,
        }
    }

    for line in summary(dir, &tally, start.elapsed()) {
        output::line(&line)?;
    }
    Ok(if tally.received > 0 { 0 } else { 1 })
}

/// An echo request to `dir` carrying `seq` and `time`.
fn request(dir: Dir, seq: u16, time: Duration) -> Result<Vec<u8>, Error> {
    let mut payload = [0u8; PAYLOAD_LEN];
    payload[..2].copy_from_slice(&seq.to_be_bytes());
    payload[2..].copy_from_slice(&nanos(time).to_be_bytes());
    let repr = EchoRepr {
        op: EchoOp::Request,
        payload: &payload,
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut buf, dir)
        .map_err(|e| Error::Usage(format!("cannot build the echo request: {e}")))?;
    Ok(buf)
}

/// The sequence number and round-trip time of an echo reply, at `now`
/// since the start of the run; `None` for anything else (tile events,
/// requests, other services, replies too short to be ours).
fn reply(bytes: &[u8], now: Duration) -> Option<(u16, Duration)> {
    let echo = EchoRepr::parse(&Packet::new_unchecked(bytes)).ok()?;
    if echo.op != EchoOp::Reply || echo.payload.len() < PAYLOAD_LEN {
        return None;
    }
    let seq = u16::from_be_bytes([echo.payload[0], echo.payload[1]]);
    let mut time = [0u8; 8];
    time.copy_from_slice(&echo.payload[2..PAYLOAD_LEN]);
    let sent = u64::from_be_bytes(time);
    let rtt = nanos(now).checked_sub(sent)?;
    Some((seq, Duration::from_nanos(rtt)))
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The closing lines, as `ping` prints them.
fn summary(dir: Dir, tally: &Tally, elapsed: Duration) -> Vec<String> {
    let loss = if tally.sent == 0 {
        0.0
    } else {
        (tally.sent.saturating_sub(tally.received)) as f64 * 100.0 / tally.sent as f64
    };
    let loss = if loss.fract() == 0.0 {
        format!("{loss:.0}%")
    } else {
        format!("{loss:.1}%")
    };
    let mut counts = format!(
        "{} packets transmitted, {} received",
        tally.sent, tally.received
    );
    if tally.duplicates > 0 {
        counts.push_str(&format!(", +{} duplicates", tally.duplicates));
    }
    if tally.errors > 0 {
        counts.push_str(&format!(", +{} errors", tally.errors));
    }
    let mut lines = vec![
        String::new(),
        format!("--- {dir} ping statistics ---"),
        format!(
            "{counts}, {loss} packet loss, time {}ms",
            elapsed.as_millis()
        ),
    ];
    lines.extend(tally.rtt.summary());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let r = request(Dir::ET, 0x0102, Duration::from_nanos(0x1122)).unwrap();
        assert_eq!(
            r,
            [
                0x82, // routed, service traffic, DIR=2 (ET)
                0x02, // service 2 (echo)
                0x01, // OP: request
                0x01, 0x02, // seq, big-endian
                0, 0, 0, 0, 0, 0, 0x11, 0x22, // time in ns, big-endian
            ]
        );
    }

    #[test]
    fn reply_gives_seq_and_rtt() {
        let mut r = request(Dir::WT, 7, Duration::from_micros(100)).unwrap();
        r[2] = 0x02; // OP: reply
        assert_eq!(
            reply(&r, Duration::from_micros(350)),
            Some((7, Duration::from_micros(250)))
        );
    }

    #[test]
    fn skips_requests_events_and_short_replies() {
        let r = request(Dir::WT, 7, Duration::ZERO).unwrap();
        assert_eq!(reply(&r, Duration::from_secs(1)), None);
        assert_eq!(reply(&[0xc4, 0x01], Duration::from_secs(1)), None);
        assert_eq!(
            reply(&[0x86, 0x02, 0x02, 0x00], Duration::from_secs(1)),
            None
        );
    }

    #[test]
    fn summary_like_ping() {
        let mut t = Tally {
            sent: 3,
            received: 2,
            ..Tally::default()
        };
        t.rtt.add(Duration::from_millis(1));
        t.rtt.add(Duration::from_millis(1));
        let s = summary(Dir::ET, &t, Duration::from_millis(2003));
        assert_eq!(s[1], "--- ET ping statistics ---");
        assert_eq!(
            s[2],
            "3 packets transmitted, 2 received, 33.3% packet loss, time 2003ms"
        );
        assert_eq!(s[3], "rtt min/avg/max/mdev = 1.000/1.000/1.000/0.000 ms");
        let none = summary(
            Dir::ET,
            &Tally {
                sent: 1,
                ..Tally::default()
            },
            Duration::ZERO,
        );
        assert_eq!(
            none[2],
            "1 packets transmitted, 0 received, 100% packet loss, time 0ms"
        );
        assert_eq!(none.len(), 3);
    }
}
