//! Tests of the request rules: one outstanding request per chunk, windows,
//! several sources, back-pressure, time-outs with back-off, RETRY, and bad
//! pieces. Neighbours are played by a function that answers requests from
//! the file's bytes.

use super::*;
use crate::keys::SecretKey;
use crate::name::Name;
use std::collections::BTreeSet;

fn file(len: usize) -> (Manifest, Vec<u8>) {
    let data: Vec<u8> = (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let key = SecretKey::from_seed(&[8; 32]);
    let m = Manifest::build(&Name::new("t").unwrap(), 1, len as u64, &data[..], &key).unwrap();
    (m, data)
}

/// The DATA answers to a REQUEST, from the whole file.
fn answer(m: &Manifest, data: &[u8], req: &Message<'_>) -> Vec<(Locator, Vec<u8>)> {
    let Message::Request { at, count } = *req else {
        panic!("{req:?}")
    };
    let object: &[u8] = match at.object {
        Object::Manifest => m.bytes(),
        _ => {
            let start = m.piece_offset(at.piece) as usize;
            &data[start..start + m.piece_len(at.piece) as usize]
        }
    };
    (0..u32::from(count))
        .map(|k| at.offset as usize + k as usize * CHUNK_LEN)
        .filter(|&o| o < object.len())
        .map(|o| {
            let at = Locator {
                offset: o as u32,
                ..at
            };
            (at, object[o..(o + CHUNK_LEN).min(object.len())].to_vec())
        })
        .collect()
}

/// Collects the requests one poll writes.
fn poll(t: &mut Transfer, now: Instant) -> Vec<(Dir, Locator, u8)> {
    let mut out = Vec::new();
    t.poll_requests(now, &mut |dir, msg| {
        let Message::Request { at, count } = *msg else {
            panic!()
        };
        out.push((dir, at, count));
        true
    });
    out
}

/// The chunk keys a list of requests covers, checking none is repeated.
fn keys(reqs: &[(Dir, Locator, u8)]) -> BTreeSet<(u8, u32, u32)> {
    let mut set = BTreeSet::new();
    for (_, at, count) in reqs {
        for k in 0..u32::from(*count) {
            let key = (at.object.to_byte(), at.piece, at.chunk() + k);
            assert!(set.insert(key), "chunk {key:?} asked twice");
        }
    }
    set
}

#[test]
fn fetches_manifest_then_pieces_from_two_sources_asking_each_chunk_once() {
    let (m, data) = file(100_000); // 7 pieces
    let now = Instant::now();
    let mut t = Transfer::new(m.id(), m.bytes().len());
    t.add_source(Dir::ET, &Have::Complete);
    t.add_source(Dir::WT, &Have::Complete);
    // The manifest (2 chunks) is asked for once, from one of them.
    let reqs = poll(&mut t, now);
    assert_eq!(keys(&reqs).len(), 2);
    assert!(poll(&mut t, now).is_empty(), "nothing is asked twice");
    let mut ready = None;
    for (dir, at, count) in reqs {
        for (at, d) in answer(&m, &data, &Message::Request { at, count }) {
            if let Event::ManifestReady(b) = t.on_data(dir, &at, &d) {
                ready = Some(b);
            }
        }
    }
    assert_eq!(ready.as_deref(), Some(m.bytes()));
    t.start_pieces(m.clone(), PieceSet::new(m.piece_count()));

    let mut got = PieceSet::new(m.piece_count());
    let mut rounds = 0;
    while !t.is_complete() {
        rounds += 1;
        assert!(rounds < 100);
        let reqs = poll(&mut t, now);
        keys(&reqs);
        for d in [Dir::ET, Dir::WT] {
            let n: u32 = reqs
                .iter()
                .filter(|r| r.0 == d)
                .map(|r| u32::from(r.2))
                .sum();
            assert!(n <= WINDOW_CHUNKS, "{d:?} has {n} outstanding");
        }
        if rounds == 1 {
            let dirs: BTreeSet<Dir> = reqs.iter().map(|r| r.0).collect();
            assert_eq!(dirs.len(), 2, "both sources are used");
        }
        for (dir, at, count) in reqs {
            for (at, d) in answer(&m, &data, &Message::Request { at, count }) {
                match t.on_data(dir, &at, &d) {
                    Event::PieceReady(p, bytes) => {
                        assert!(m.check_piece(p, &bytes));
                        assert!(got.insert(p));
                    }
                    Event::None => {}
                    other => panic!("{other:?}"),
                }
            }
        }
    }
    assert!(got.is_complete());
    assert_eq!(t.next_deadline(), None);
}

#[test]
fn only_pieces_a_source_announced_are_asked_of_it() {
    let (m, _) = file(100_000);
    let now = Instant::now();
    let mut have = PieceSet::new(m.piece_count());
    have.insert(0);
    let mut t = Transfer::resume(m.clone(), have);
    t.add_source(
        Dir::NE,
        &Have::Partial {
            base: 0,
            bitmap: &[0b0000_0101], // pieces 0 and 2
        },
    );
    let pieces: BTreeSet<u32> = poll(&mut t, now).iter().map(|r| r.1.piece).collect();
    assert_eq!(pieces, [2].into());
    // It announces more: those are asked for too, once it has room.
    t.add_source(Dir::NE, &Have::Complete);
    let later = now + MAX_TIMEOUT;
    t.expire(later);
    let pieces: BTreeSet<u32> = poll(&mut t, later).iter().map(|r| r.1.piece).collect();
    assert_eq!(pieces, [2].into(), "the piece begun comes first");
    // More sources first finish what is begun, then start the next piece.
    t.add_source(Dir::WT, &Have::Complete);
    t.add_source(Dir::SE, &Have::Complete);
    let reqs = poll(&mut t, later);
    keys(&reqs);
    let of = |d: Dir| -> BTreeSet<u32> {
        reqs.iter()
            .filter(|r| r.0 == d)
            .map(|r| r.1.piece)
            .collect()
    };
    let mut got = [of(Dir::WT), of(Dir::SE)];
    got.sort();
    assert_eq!(got, [[1, 2].into(), [2].into()]);
}

#[test]
fn a_refused_write_leaves_nothing_outstanding() {
    let (m, _) = file(20_000);
    let now = Instant::now();
    let mut t = Transfer::resume(m.clone(), PieceSet::new(m.piece_count()));
    t.add_source(Dir::SE, &Have::Complete);
    let mut tries = 0;
    t.poll_requests(now, &mut |_, _| {
        tries += 1;
        false
    });
    assert_eq!(tries, 1, "one refusal ends the round for that neighbour");
    assert_eq!(t.next_deadline(), None);
    assert!(!poll(&mut t, now).is_empty(), "asked again when writable");
}

#[test]
fn time_outs_return_chunks_and_back_off_until_data_arrives() {
    let (m, data) = file(20_000);
    let t0 = Instant::now();
    let mut t = Transfer::resume(m.clone(), PieceSet::new(m.piece_count()));
    t.add_source(Dir::SW, &Have::Complete);
    let first = poll(&mut t, t0);
    assert_eq!(t.next_deadline(), Some(t0 + INITIAL_TIMEOUT));
    t.expire(t0 + INITIAL_TIMEOUT - Duration::from_millis(1));
    assert!(poll(&mut t, t0).is_empty(), "not expired yet");
    let t1 = t0 + INITIAL_TIMEOUT;
    t.expire(t1);
    let second = poll(&mut t, t1);
    assert_eq!(keys(&first), keys(&second), "the same chunks, asked again");
    assert_eq!(t.next_deadline(), Some(t1 + 2 * INITIAL_TIMEOUT));
    let mut at = t1;
    for _ in 0..10 {
        at += MAX_TIMEOUT;
        t.expire(at);
        poll(&mut t, at);
    }
    assert_eq!(t.next_deadline(), Some(at + MAX_TIMEOUT), "capped");
    // Data resets the time-out.
    let (dir, loc, count) =
        poll(&mut t, at)
            .into_iter()
            .next()
            .unwrap_or((Dir::SW, second[0].1, second[0].2));
    let (cloc, chunk) = answer(&m, &data, &Message::Request { at: loc, count })[0].clone();
    t.on_data(dir, &cloc, &chunk);
    assert!(!poll(&mut t, at).is_empty(), "room for one more chunk");
    assert_eq!(t.next_deadline(), Some(at + INITIAL_TIMEOUT));
}

#[test]
fn a_minimum_request_waits_for_room_for_a_fuller_request() {
    let (m, data) = file(20_000);
    let now = Instant::now();
    let mut t = Transfer::resume(m.clone(), PieceSet::new(m.piece_count()));
    t.set_min_request(MAX_REQUEST_CHUNKS);
    t.add_source(Dir::SW, &Have::Complete);
    let first = poll(&mut t, now);
    assert_eq!(first.len(), 2, "a window of two requests: {first:?}");
    let (dir, at, count) = first[0];
    let answers = answer(&m, &data, &Message::Request { at, count });
    t.on_data(dir, &answers[0].0, &answers[0].1);
    assert!(poll(&mut t, now).is_empty(), "room for one chunk only");
    for (at, chunk) in &answers[1..] {
        t.on_data(dir, at, chunk);
    }
    let next = poll(&mut t, now);
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(next[0].2, MAX_REQUEST_CHUNKS);
}

#[test]
fn a_wider_window_keeps_more_chunks_outstanding() {
    let (m, _) = file(20_000);
    let now = Instant::now();
    let mut t = Transfer::resume(m.clone(), PieceSet::new(m.piece_count()));
    t.set_window(4 * u32::from(MAX_REQUEST_CHUNKS));
    t.add_source(Dir::ET, &Have::Complete);
    let reqs = poll(&mut t, now);
    assert_eq!(keys(&reqs).len(), 4 * usize::from(MAX_REQUEST_CHUNKS));
    assert!(poll(&mut t, now).is_empty(), "the window is full");
}

#[test]
fn retry_keeps_a_piece_from_that_source_until_the_delay_passes() {
    let (m, _) = file(20_000); // 2 pieces
    let now = Instant::now();
    let mut t = Transfer::resume(m.clone(), PieceSet::new(m.piece_count()));
    t.add_source(Dir::NW, &Have::Complete);
    let reqs = poll(&mut t, now);
    let on_piece0 = reqs.iter().find(|r| r.1.piece == 0).unwrap().1;
    t.on_retry(Dir::NW, &on_piece0, Duration::from_secs(2), now);
    let again: BTreeSet<u32> = poll(&mut t, now).iter().map(|r| r.1.piece).collect();
    assert!(!again.contains(&0), "{again:?}");
    let later: BTreeSet<u32> = poll(&mut t, now + Duration::from_secs(2))
        .iter()
        .map(|r| r.1.piece)
        .collect();
    assert!(later.contains(&0), "{later:?}");
}

#[test]
fn bad_pieces_strike_their_senders_out() {
    let (m, data) = file(20_000);
    let now = Instant::now();
    let mut t = Transfer::resume(m.clone(), PieceSet::new(m.piece_count()));
    t.add_source(Dir::ET, &Have::Complete);
    for strike in 1..=MAX_STRIKES {
        let mut events = Vec::new();
        for _ in 0..10 {
            for (dir, at, count) in poll(&mut t, now) {
                for (at, mut d) in answer(&m, &data, &Message::Request { at, count }) {
                    if at.piece == 0 {
                        d[0] ^= 1;
                    }
                    events.push(t.on_data(dir, &at, &d));
                }
            }
            if events.contains(&Event::BadPiece(0)) {
                break;
            }
        }
        assert!(events.contains(&Event::BadPiece(0)), "strike {strike}");
        assert_eq!(t.source_count(), usize::from(strike < MAX_STRIKES));
    }
    assert!(poll(&mut t, now).is_empty());
    // Data nobody asked for is refused.
    let stray = Locator {
        id: m.id().short(),
        object: Object::Manifest,
        piece: 0,
        offset: 0,
    };
    assert_eq!(t.on_data(Dir::WT, &stray, &[0; 10]), Event::Unexpected);
}

#[test]
fn a_bad_manifest_is_fetched_again_from_others() {
    let (m, data) = file(1000);
    let now = Instant::now();
    let mut t = Transfer::new(m.id(), m.bytes().len());
    t.add_source(Dir::ET, &Have::Complete);
    let reqs = poll(&mut t, now);
    let mut ready = None;
    for (dir, at, count) in reqs {
        for (at, mut d) in answer(&m, &data, &Message::Request { at, count }) {
            d[0] ^= 0xff;
            if let Event::ManifestReady(b) = t.on_data(dir, &at, &d) {
                ready = Some(b);
            }
        }
    }
    assert!(Manifest::parse(&ready.unwrap()).is_err());
    t.manifest_failed();
    assert_eq!(t.source_count(), 0);
    t.add_source(Dir::WT, &Have::Complete);
    let reqs = poll(&mut t, now);
    assert!(reqs
        .iter()
        .all(|r| r.0 == Dir::WT && r.1.object == Object::Manifest));
    assert!(!reqs.is_empty());
}

#[test]
fn chunks_that_came_before_are_duplicates() {
    let (m, data) = file(100_000); // 7 pieces, a manifest of 2 chunks
    let now = Instant::now();
    let mut t = Transfer::new(m.id(), m.bytes().len());
    t.add_source(Dir::ET, &Have::Complete);
    let reqs = poll(&mut t, now);
    let (dir, at, count) = reqs[0];
    let chunks = answer(&m, &data, &Message::Request { at, count });
    assert!(chunks.len() >= 2, "the manifest has two chunks");
    assert_eq!(t.on_data(dir, &chunks[0].0, &chunks[0].1), Event::None);
    // The same manifest chunk again, before and after the manifest is whole.
    assert_eq!(t.on_data(dir, &chunks[0].0, &chunks[0].1), Event::Duplicate);
    for (at, d) in &chunks[1..] {
        let _ = t.on_data(dir, at, d);
    }
    t.start_pieces(m.clone(), PieceSet::new(m.piece_count()));
    assert_eq!(t.on_data(dir, &chunks[0].0, &chunks[0].1), Event::Duplicate);
    // A changed manifest chunk after that is not a duplicate.
    let mut changed = chunks[0].1.clone();
    changed[0] ^= 1;
    assert_eq!(t.on_data(dir, &chunks[0].0, &changed), Event::Unexpected);

    // A piece chunk twice; once the piece is verified, its chunk again.
    let reqs = poll(&mut t, now);
    let &(dir, at, count) = reqs
        .iter()
        .find(|r| r.1.object == Object::Piece && r.1.piece == 0 && r.1.offset == 0)
        .unwrap();
    let first = answer(&m, &data, &Message::Request { at, count });
    assert_eq!(t.on_data(dir, &first[0].0, &first[0].1), Event::None);
    assert_eq!(t.on_data(dir, &first[0].0, &first[0].1), Event::Duplicate);
    let mut pending = reqs;
    let mut verified = false;
    for _ in 0..100 {
        for &(dir, at, count) in &pending {
            for (at, d) in answer(&m, &data, &Message::Request { at, count }) {
                verified |= matches!(t.on_data(dir, &at, &d), Event::PieceReady(0, _));
            }
        }
        if verified {
            break;
        }
        pending = poll(&mut t, now);
    }
    assert!(verified, "piece 0 is whole");
    assert_eq!(t.on_data(dir, &first[0].0, &first[0].1), Event::Duplicate);
}
