//! Bad input from a neighbour, through a real grid: the test speaks
//! service 8 as tile r0c1 (its `tile/WT/svc/08` file) to a real
//! `itc-files` on r0c0, and sends what a broken or hostile neighbour
//! would. Each kind is refused and counted by its reason in
//! `itc files status` (text and `--json`), the daemon stays up, and
//! nothing of it reaches `live/`. A long run of random and near-valid
//! packets checks that the daemon's memory stays flat.

mod raw_peer;

use itc_files::manifest::{MAGIC, MAX_FILE_LEN, MAX_PIECE_SIZE};
use itc_files::transfer::MAX_STRIKES;
use itc_files::wire::{
    AbortReason, Announce, Have, Locator, Message, Object, CHUNK_LEN, MAX_MESSAGE_LEN,
};
use itc_files::{Manifest, Name, RecordId, ShortId, Tombstone};
use raw_peer::{
    bins, content, trusted_key, untrusted_key, Bins, Daemon, Grid, RawPeer, Scratch, Site, DEADLINE,
};
use test_support::{wait_for, Rng};

/// A grid, `itc-files` on r0c0 trusting [`trusted_key`], and the raw peer
/// on r0c1. Dropped in reverse order: peer, daemon, grid, directory.
struct Setup {
    peer: RawPeer,
    daemon: Daemon,
    site: Site,
    _grid: Grid,
    _scratch: Scratch,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        let bins: Bins = bins();
        let scratch = Scratch::new(tag);
        let grid = Grid::start(&bins, &scratch.0);
        let site = Site::new(&bins, &scratch.path("r0c0"), &trusted_key());
        let daemon = Daemon::start(&bins, &site, &grid.mount("r0c0"));
        let peer = RawPeer::open(&grid);
        Setup {
            peer,
            daemon,
            site,
            _grid: grid,
            _scratch: scratch,
        }
    }

    /// Serves the peer's objects until `reason` has been counted `n` times.
    fn until_bad(&mut self, reason: &str, n: u64) {
        let site = self.site.clone();
        assert!(
            self.peer.serve_until(|| site.bad(reason) >= n),
            "bad_input.{reason} never reached {n}; status:\n{}\nlog:\n{}",
            site.text(),
            site.log_text()
        );
    }

    /// The daemon is still running and answering.
    fn still_up(&mut self) {
        assert!(self.daemon.is_running(), "itc-files died");
        let _ = self.site.json();
    }
}

fn name(s: &str) -> Name {
    Name::from_bytes(s.as_bytes()).unwrap()
}

/// The manifest of `bytes` as `name` version `version`, signed by `key`.
fn manifest(name_: &str, version: u64, bytes: &[u8], key: &itc_files::SecretKey) -> Manifest {
    Manifest::build(&name(name_), version, bytes.len() as u64, bytes, key).unwrap()
}

#[test]
fn unparsable_messages_are_counted_and_shown_in_status_and_json() {
    let mut s = Setup::new("unparsable");
    let junk: [&[u8]; 6] = [
        &[],                       // no protocol version
        &[0x02, 0x07],             // protocol version 2
        &[0x01, 0x42],             // unknown message type
        &[0x01, 0x07, 0x00],       // SOLICIT with a trailing byte
        &[0x01, 0x03, 1, 2, 3],    // REQUEST cut short
        &[0x01, 0x06, 1, 1, 1, 1], // ABORT cut short
    ];
    for j in junk {
        s.peer.send_raw(j);
    }
    s.until_bad("unparsable", junk.len() as u64);
    // Exactly those, nothing else counted as bad.
    let json = s.site.json();
    let bad = json["bad_input"].as_object().unwrap();
    for (k, v) in bad {
        let want = if k == "unparsable" { junk.len() } else { 0 };
        assert_eq!(v.as_u64(), Some(want as u64), "bad_input.{k}: {json}");
    }
    let text = s.site.text();
    assert!(
        text.lines().any(|l| l == "bad input: unparsable=6"),
        "itc files status shows the count by reason:\n{text}"
    );
    s.still_up();
    assert!(s.site.live_names().is_empty());
}

#[test]
fn manifest_signed_by_an_untrusted_key_is_refused_and_counted() {
    let mut s = Setup::new("unsigned");
    let data = content(5000, 1);
    let m = manifest("map.bin", 1, &data, &untrusted_key());
    s.peer.offer_pieces(&m, &data);
    s.peer.announce_manifest("map.bin", 1, m.bytes().to_vec());
    s.until_bad("unsigned", 1);
    assert_eq!(s.site.bad("bad_signature"), 0);
    assert_eq!(s.site.counter("fetches_started"), 0);
    s.still_up();
    assert!(s.site.live_names().is_empty(), "nothing goes live");
}

#[test]
fn manifest_with_a_bad_signature_is_refused_and_counted() {
    let mut s = Setup::new("badsig");
    let data = content(5000, 2);
    let m = manifest("map.bin", 1, &data, &trusted_key());
    // The trusted key's id, a signature that is not its.
    let mut bytes = m.bytes().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let forged = Manifest::parse(&bytes).unwrap();
    s.peer.offer_pieces(&forged, &data);
    s.peer.announce_manifest("map.bin", 1, bytes);
    s.until_bad("bad_signature", 1);
    assert_eq!(s.site.bad("unsigned"), 0);
    assert_eq!(s.site.counter("fetches_started"), 0);
    s.still_up();
    assert!(s.site.live_names().is_empty(), "nothing goes live");
}

#[test]
fn manifest_without_a_signature_is_refused_and_counted() {
    let mut s = Setup::new("nosig");
    let data = content(5000, 8);
    // Signature bytes all zero, under the trusted key's id.
    let m = manifest("zeroed.bin", 1, &data, &trusted_key());
    let mut zeroed = m.bytes().to_vec();
    let sig_at = zeroed.len() - itc_files::keys::SIGNATURE_LEN;
    zeroed[sig_at..].fill(0);
    s.peer.announce_manifest("zeroed.bin", 1, zeroed);
    s.until_bad("bad_signature", 1);
    // The signature cut off: shorter than any manifest, so its announce
    // does not even parse.
    let m = manifest("stripped.bin", 1, &data, &trusted_key());
    let stripped = &m.bytes()[..sig_at];
    assert!(Manifest::parse(stripped).is_err());
    let mut announce = vec![0x01, 0x01, 0x01, 12];
    announce.extend_from_slice(b"stripped.bin");
    announce.extend_from_slice(&1u64.to_be_bytes());
    announce.extend_from_slice(&RecordId::of(stripped).0);
    announce.extend_from_slice(&(stripped.len() as u32).to_be_bytes());
    assert!(Message::parse(&announce).is_err());
    s.peer.send_raw(&announce);
    s.until_bad("unparsable", 1);
    assert_eq!(s.site.counter("fetches_started"), 0);
    s.still_up();
    assert!(s.site.live_names().is_empty(), "nothing goes live");
}

#[test]
fn oversized_manifest_is_refused_and_counted() {
    let mut s = Setup::new("oversized");
    // A manifest for a file over the limit, signed by the trusted key:
    // its fields say so before any piece hash.
    let key = trusted_key();
    let n = name("huge.bin");
    let length = MAX_FILE_LEN + 1;
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&MAGIC);
    bytes.push(itc_files::manifest::FORMAT);
    bytes.push(n.as_bytes().len() as u8);
    bytes.extend_from_slice(n.as_bytes());
    bytes.extend_from_slice(&1u64.to_be_bytes());
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(&MAX_PIECE_SIZE.to_be_bytes());
    let pieces = length.div_ceil(u64::from(MAX_PIECE_SIZE)) as u32;
    bytes.extend_from_slice(&pieces.to_be_bytes());
    bytes.extend_from_slice(&key.id().0);
    let signature = key.sign(&bytes);
    bytes.extend_from_slice(&signature);
    assert!(matches!(
        Manifest::parse(&bytes),
        Err(itc_files::ManifestError::FileTooLong(_))
    ));
    s.peer.announce_manifest("huge.bin", 1, bytes);
    s.until_bad("oversized", 1);
    assert_eq!(s.site.counter("fetches_started"), 0);
    s.still_up();
    assert!(s.site.live_names().is_empty(), "nothing goes live");
}

#[test]
fn piece_failing_its_hash_is_refused_counted_and_fetched_again() {
    let mut s = Setup::new("badpiece");
    let data = content(40_000, 3);
    let m = manifest("map.bin", 1, &data, &trusted_key());
    assert_eq!(m.piece_count(), 3, "{m:?}");
    // Piece 1 arrives damaged the first time, right the next.
    s.peer.offer_pieces(&m, &data);
    s.peer.damage_once(&m, 1);
    s.peer.announce_manifest("map.bin", 1, m.bytes().to_vec());
    let live = s.site.store.join("live/map.bin");
    assert!(
        s.peer
            .serve_until(|| std::fs::read(&live).is_ok_and(|b| b == data)),
        "the file never went live; status:\n{}",
        s.site.text()
    );
    // Refused once, counted once; the three stored pieces are the right ones.
    assert_eq!(s.site.bad("bad_piece"), 1);
    assert_eq!(s.site.counter("pieces_received"), 3);
    assert_eq!(s.site.live_names(), ["map.bin"]);
    s.still_up();
}

#[test]
fn a_neighbour_sending_only_bad_pieces_is_dropped_and_nothing_goes_live() {
    let mut s = Setup::new("badpieces");
    let data = content(100_000, 9);
    let m = manifest("map.bin", 1, &data, &trusted_key());
    assert!(m.piece_count() > MAX_STRIKES, "{m:?}");
    // Every piece damaged in its last byte, every time.
    let mut damaged = data.clone();
    for i in 0..m.piece_count() {
        let end = (m.piece_offset(i) + u64::from(m.piece_len(i))) as usize;
        damaged[end - 1] ^= 0xff;
    }
    s.peer.offer_pieces(&m, &damaged);
    s.peer.announce_manifest("map.bin", 1, m.bytes().to_vec());
    // After its strikes the neighbour is no longer a source.
    let site = s.site.clone();
    let no_source = || {
        let j = site.json();
        j["files"].as_array().is_some_and(|f| {
            f.iter().any(|f| {
                f["name"] == "map.bin"
                    && f["fetch"]["sources"].as_array().is_some_and(Vec::is_empty)
            })
        })
    };
    assert!(
        s.peer
            .serve_until(|| site.bad("bad_piece") >= u64::from(MAX_STRIKES) && no_source()),
        "{}",
        site.text()
    );
    assert_eq!(s.site.bad("bad_piece"), u64::from(MAX_STRIKES));
    assert_eq!(s.site.counter("pieces_received"), 0);
    assert!(s.site.live_names().is_empty(), "no damaged piece goes live");
    s.still_up();
}

#[test]
fn repeated_and_late_answers_are_dropped_and_counted() {
    let mut s = Setup::new("late");
    let data = content(40_000, 7);
    let m = manifest("map.bin", 1, &data, &trusted_key());
    s.peer.repeat = true;
    s.peer.offer_pieces(&m, &data);
    s.peer.announce_manifest("map.bin", 1, m.bytes().to_vec());
    let live = s.site.store.join("live/map.bin");
    assert!(
        s.peer
            .serve_until(|| std::fs::read(&live).is_ok_and(|b| b == data)),
        "the file never went live; status:\n{}",
        s.site.text()
    );
    assert!(s.site.counter("dropped_duplicate") > 0, "{}", s.site.text());
    let installs = s.site.counter("installs");

    // Answers about the transfer after it is done.
    let stale0 = s.site.counter("dropped_stale");
    let unexpected0 = s.site.bad("unexpected_data");
    let at = Locator {
        id: m.id().short(),
        object: Object::Piece,
        piece: 0,
        offset: 0,
    };
    s.peer.send(&Message::Retry { at, delay_ms: 10 });
    s.peer.send(&Message::Abort {
        id: m.id().short(),
        reason: AbortReason::Shutdown,
    });
    s.peer.send(&Message::Data {
        at,
        data: &data[..CHUNK_LEN],
    });
    let site = s.site.clone();
    assert!(
        s.peer
            .serve_until(|| site.counter("dropped_stale") == stale0 + 2
                && site.bad("unexpected_data") == unexpected0 + 1),
        "{}",
        site.text()
    );
    assert_eq!(s.site.counter("installs"), installs);
    assert_eq!(std::fs::read(&live).unwrap(), data);
    s.still_up();
}

#[test]
fn tombstones_not_signed_by_a_trusted_key_are_refused_and_counted() {
    let mut s = Setup::new("tombstones");
    let kept = content(3000, 4);
    s.site.publish("map.bin", &kept, &trusted_key(), 1);
    assert_eq!(s.site.live_names(), ["map.bin"]);

    let untrusted = Tombstone::new(&name("map.bin"), 99, &untrusted_key());
    s.peer.send(&Message::Tombstone(untrusted.bytes()));
    s.until_bad("unsigned", 1);

    let good = Tombstone::new(&name("map.bin"), 99, &trusted_key());
    let mut forged = good.bytes().to_vec();
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    s.peer.send(&Message::Tombstone(&forged));
    s.until_bad("bad_signature", 1);

    assert_eq!(s.site.counter("deletes"), 0);
    let json = s.site.json();
    let f = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "map.bin")
        .unwrap();
    assert!(f["deleted"].is_null(), "{f}");
    assert_eq!(
        std::fs::read(s.site.store.join("live/map.bin")).unwrap(),
        kept,
        "the live file stays"
    );
    s.still_up();
}

/// Valid messages to start mutations from: about a file the daemon has
/// (so requests reach real data), about one it does not, and others.
fn templates(published: &Manifest, other: &Manifest) -> Vec<Vec<u8>> {
    let here = published.id().short();
    let tomb = Tombstone::new(published.name(), published.version(), &untrusted_key());
    let at = |object, piece, offset| Locator {
        id: here,
        object,
        piece,
        offset,
    };
    let msgs = [
        Message::Announce(Announce {
            name: other.name().clone(),
            version: other.version(),
            manifest_id: other.id(),
            manifest_len: other.bytes().len() as u32,
            have: Have::Complete,
        }),
        Message::Announce(Announce {
            name: published.name().clone(),
            version: published.version() + 1,
            manifest_id: RecordId([7; 32]),
            manifest_len: 200,
            have: Have::Partial {
                base: 0,
                bitmap: &[0xff, 0x01],
            },
        }),
        Message::Tombstone(tomb.bytes()),
        Message::Request {
            at: at(Object::Manifest, 0, 0),
            count: 2,
        },
        Message::Request {
            at: at(Object::Piece, 1, CHUNK_LEN as u32),
            count: 4,
        },
        Message::Data {
            at: at(Object::Piece, 0, 0),
            data: &[0x5a; 100],
        },
        Message::Data {
            at: Locator {
                id: other.id().short(),
                object: Object::Manifest,
                piece: 0,
                offset: 0,
            },
            data: &other.bytes()[..CHUNK_LEN.min(other.bytes().len())],
        },
        Message::Retry {
            at: at(Object::Piece, 0, 0),
            delay_ms: 10,
        },
        Message::Abort {
            id: here,
            reason: AbortReason::Superseded,
        },
        Message::Abort {
            id: ShortId([3; 8]),
            reason: AbortReason::Other(0x77),
        },
        Message::Solicit,
    ];
    msgs.iter()
        .map(|m| {
            let mut buf = [0u8; MAX_MESSAGE_LEN];
            let n = m.emit(&mut buf).unwrap();
            buf[..n].to_vec()
        })
        .collect()
}

/// One payload: random bytes, or a template with bytes flipped, cut,
/// extended or its type changed.
fn fuzz_payload(rng: &mut Rng, templates: &[Vec<u8>]) -> Vec<u8> {
    if rng.chance(0.2) {
        let len = rng.below(MAX_MESSAGE_LEN + 1);
        return rng.bytes(len);
    }
    let mut p = rng.pick(templates).clone();
    match rng.below(5) {
        0 => {
            for _ in 0..=rng.below(3) {
                let i = rng.below(p.len());
                p[i] ^= 1 << rng.below(8);
            }
        }
        1 => {
            let keep = rng.below(p.len());
            p.truncate(keep);
        }
        2 => {
            let room = MAX_MESSAGE_LEN - p.len().min(MAX_MESSAGE_LEN);
            let more = rng.below(room + 1);
            p.extend(rng.bytes(more));
        }
        3 => p[1] = rng.below(256) as u8,
        _ => {
            let i = rng.below(p.len());
            p[i] = rng.below(256) as u8;
        }
    }
    p
}

#[test]
fn random_and_near_valid_packets_leave_the_daemon_up_with_flat_memory() {
    let mut s = Setup::new("fuzz");
    let kept = content(40_000, 5);
    s.site.publish("kept.bin", &kept, &trusted_key(), 1);
    let published = manifest("kept.bin", 1, &kept, &trusted_key());
    let other_data = content(3000, 6);
    let other = manifest("other.bin", 1, &other_data, &trusted_key());
    let templates = templates(&published, &other);

    let seed = std::env::var("ITC_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f11e);
    println!("seed {seed} (set ITC_FUZZ_SEED to repeat)");
    let mut rng = Rng::new(seed);
    let mut unparsable = 0u64;
    let mut send = |s: &mut Setup, n: usize, rng: &mut Rng| {
        for _ in 0..n {
            let p = fuzz_payload(rng, &templates);
            if Message::parse(&p).is_err() {
                unparsable += 1;
            }
            s.peer.send_raw(&p);
        }
    };
    // What reached the daemon: read by it, or lost because its queue in
    // itcd was full (counted by the Packets lost TEPs it gets).
    let rx = |site: &Site| site.service("rx_packets") + site.service("packets_lost");
    let rx0 = rx(&s.site);

    // Warm up: the daemon's buffers and tables reach their working size.
    send(&mut s, 3000, &mut rng);
    let sent = s.peer.sent;
    assert!(
        wait_for(DEADLINE, || rx(&s.site) >= rx0 + sent),
        "the daemon did not read everything"
    );
    let rss_warm = s.daemon.rss_kib();
    for round in 0..6 {
        send(&mut s, 3000, &mut rng);
        s.peer.serve_ready();
        assert!(s.daemon.is_running(), "itc-files died in round {round}");
    }
    let sent = s.peer.sent;
    assert!(
        wait_for(DEADLINE, || {
            s.peer.serve_ready();
            rx(&s.site) >= rx0 + sent
        }),
        "the daemon did not read everything: {} of {sent}",
        rx(&s.site) - rx0
    );
    let rss_end = s.daemon.rss_kib();
    let lost = s.site.service("packets_lost");
    println!(
        "{sent} packets, {unparsable} unparsable, {lost} lost in itcd's queue; \
         RSS {rss_warm} KiB after 3000, {rss_end} KiB at the end"
    );
    s.still_up();

    // Every unparsable message that was read counted as such (all of
    // them unless some were lost, and counted lost, on the way); other
    // reasons counted too.
    let json = s.site.json();
    println!("bad_input: {}", json["bad_input"]);
    println!("counters: {}", json["counters"]);
    let counted = json["bad_input"]["unparsable"].as_u64().unwrap();
    assert!(
        counted <= unparsable && counted + lost >= unparsable,
        "{counted} counted unparsable of {unparsable} sent, {lost} lost: {json}"
    );
    let bad_total: u64 = json["bad_input"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(bad_total > unparsable, "only unparsable counted: {json}");
    assert!(
        json["counters"]["dropped_stale"].as_u64() > Some(0),
        "ABORTs for no transfer are counted: {json}"
    );
    assert!(
        rss_end <= rss_warm + 4096,
        "memory grew from {rss_warm} KiB to {rss_end} KiB"
    );
    // live/ holds the published file alone, as published.
    assert_eq!(s.site.live_names(), ["kept.bin"]);
    assert_eq!(
        std::fs::read(s.site.store.join("live/kept.bin")).unwrap(),
        kept
    );
}
