//! The library driven the way the daemon loop will drive it: three tiles in
//! a row, each a real store on disk, exchanging encoded service-8 packets
//! over links that carry a limited number of packets per tick and refuse
//! writes when full (as `EAGAIN` does). A file published on the first tile
//! reaches the third bit for bit, the middle tile forwards pieces before it
//! has them all (pipelining), and a tombstone published later removes it
//! everywhere.

use std::collections::{BTreeMap, VecDeque};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use itc_files::wire::{
    emit_packet, parse_packet, AbortReason, Locator, Message, CHUNK_LEN, MAX_BITMAP,
};
use itc_files::{
    Event, Keyring, Manifest, Name, RecordId, SecretKey, ServeError, Stamp, Store, Tombstone,
    Transfer, Versions,
};
use itc_proto::Dir;

/// Packets a link carries per tick, each way.
const RATE: usize = 24;
/// Packets a link queues before refusing writes.
const QUEUE: usize = 64;
const TICK: Duration = Duration::from_millis(10);

struct Tile {
    store: Store,
    versions: Versions,
    transfers: BTreeMap<RecordId, Transfer>,
    links: Vec<Dir>,
    changed: bool,
    first_piece_tick: Option<u32>,
    installed_tick: Option<u32>,
}

/// Queues of packets between tiles: (from tile, direction) -> packets.
type Wires = BTreeMap<(usize, Dir), VecDeque<Vec<u8>>>;

fn send(wires: &mut Wires, from: usize, dir: Dir, msg: &Message<'_>) -> bool {
    let q = wires.entry((from, dir)).or_default();
    if q.len() >= QUEUE {
        return false;
    }
    let mut buf = [0u8; 255];
    let n = emit_packet(msg, dir, &mut buf).unwrap();
    q.push_back(buf[..n].to_vec());
    true
}

/// Where a packet sent from `from` towards `dir` arrives: the tile and the
/// direction it came from there.
fn across(from: usize, dir: Dir) -> (usize, Dir) {
    match dir {
        Dir::ET => (from + 1, Dir::WT),
        Dir::WT => (from - 1, Dir::ET),
        _ => unreachable!(),
    }
}

impl Tile {
    fn new(root: &Path, links: Vec<Dir>) -> Tile {
        let (store, _) = Store::open(root).unwrap();
        Tile {
            versions: store.versions(),
            store,
            transfers: BTreeMap::new(),
            links,
            changed: true,
            first_piece_tick: None,
            installed_tick: None,
        }
    }

    fn announce(&mut self, me: usize, wires: &mut Wires) {
        for name in self.store.names() {
            let mut bits = [0u8; MAX_BITMAP];
            let a = self.store.announce(&name, &mut bits).unwrap();
            for d in self.links.clone() {
                send(wires, me, d, &Message::Announce(a.clone()));
            }
        }
        for t in self.store.tombstones().cloned().collect::<Vec<_>>() {
            for d in self.links.clone() {
                send(wires, me, d, &Message::Tombstone(t.bytes()));
            }
        }
        self.changed = false;
    }

    fn receive(
        &mut self,
        me: usize,
        from: Dir,
        bytes: &[u8],
        keys: &Keyring,
        tick: u32,
        wires: &mut Wires,
    ) {
        let (_, msg) = parse_packet(bytes).unwrap();
        match msg {
            Message::Announce(a) => {
                let stamp = Stamp::new(a.version, a.manifest_id);
                let known = self.transfers.contains_key(&a.manifest_id);
                if known || self.versions.wants_publish(&a.name, stamp) {
                    let t = self
                        .transfers
                        .entry(a.manifest_id)
                        .or_insert_with(|| Transfer::new(a.manifest_id, a.manifest_len as usize));
                    t.add_source(from, &a.have);
                }
            }
            Message::Tombstone(record) => {
                let t = Tombstone::parse_verified(record, keys).unwrap();
                if self.versions.wants_tombstone(t.name(), t.stamp()) {
                    self.versions.tombstone(t.name(), t.stamp());
                    let out = self.store.delete(&t).unwrap();
                    for id in out.abandoned {
                        self.transfers.remove(&id);
                    }
                    if out.removed_live {
                        self.versions.mark_removed(t.name());
                    }
                    self.changed = true;
                }
            }
            Message::Request { at, count } => {
                let mut buf = [0u8; CHUNK_LEN];
                for k in 0..u32::from(count) {
                    let at = Locator {
                        offset: at.offset + k * CHUNK_LEN as u32,
                        ..at
                    };
                    let reply = match self.store.read_chunk(&at, &mut buf) {
                        Ok(n) => Message::Data {
                            at,
                            data: &buf[..n],
                        },
                        Err(ServeError::NotYet(_)) => Message::Retry { at, delay_ms: 100 },
                        Err(ServeError::Unknown(id)) => Message::Abort {
                            id,
                            reason: AbortReason::Unknown,
                        },
                        Err(_) => break,
                    };
                    let stop = !matches!(reply, Message::Data { .. });
                    if !send(wires, me, from, &reply) || stop {
                        break;
                    }
                }
            }
            Message::Data { at, data } => {
                let Some(id) = self
                    .transfers
                    .keys()
                    .copied()
                    .find(|id| id.short() == at.id)
                else {
                    return;
                };
                let t = self.transfers.get_mut(&id).unwrap();
                match t.on_data(from, &at, data) {
                    Event::ManifestReady(bytes) => match Manifest::parse_verified(&bytes, keys) {
                        Ok(m) if m.id() == id => {
                            self.store.begin_fetch(m.clone()).unwrap();
                            self.versions.publish(m.name(), m.stamp());
                            let have = self.store.fetch(id).unwrap().pieces().clone();
                            t.start_pieces(m, have);
                            self.changed = true;
                        }
                        _ => t.manifest_failed(),
                    },
                    Event::PieceReady(i, bytes) => {
                        self.first_piece_tick.get_or_insert(tick);
                        let w = self.store.write_piece(id, i, &bytes).unwrap();
                        if w.complete {
                            let m = t.manifest().unwrap().clone();
                            assert!(self.store.install(id).unwrap());
                            self.versions.mark_installed(m.name(), m.stamp());
                            self.transfers.remove(&id);
                            self.installed_tick = Some(tick);
                        }
                        self.changed = true;
                    }
                    Event::BadPiece(i) => panic!("bad piece {i}"),
                    Event::None | Event::Unexpected | Event::Duplicate => {}
                }
            }
            Message::Retry { at, delay_ms } => {
                if let Some(t) = self
                    .transfers
                    .values_mut()
                    .find(|t| t.id().short() == at.id)
                {
                    t.on_retry(
                        from,
                        &at,
                        Duration::from_millis(delay_ms.into()),
                        Instant::now(),
                    );
                }
            }
            Message::Abort { id, .. } => {
                if let Some(t) = self.transfers.values_mut().find(|t| t.id().short() == id) {
                    t.remove_source(from);
                }
            }
            Message::Solicit => self.changed = true,
        }
    }
}

/// Runs the row until `done` holds, returning the tick it did.
fn run(
    tiles: &mut [Tile],
    keys: &Keyring,
    wires: &mut Wires,
    done: impl Fn(&[Tile]) -> bool,
) -> u32 {
    let start = Instant::now();
    for tick in 0..5000u32 {
        if done(tiles) {
            return tick;
        }
        let now = start + TICK * tick;
        for (i, tile) in tiles.iter_mut().enumerate() {
            if tile.changed || tick % 50 == 0 {
                tile.announce(i, wires);
            }
            for t in tile.transfers.values_mut() {
                t.expire(now);
                t.poll_requests(now, &mut |dir, msg| send(wires, i, dir, msg));
            }
        }
        let links: Vec<(usize, Dir)> = wires.keys().copied().collect();
        for (from, dir) in links {
            for _ in 0..RATE {
                let Some(p) = wires.get_mut(&(from, dir)).unwrap().pop_front() else {
                    break;
                };
                let (to, came) = across(from, dir);
                tiles[to].receive(to, came, &p, keys, tick, wires);
            }
        }
    }
    panic!("the row did not settle");
}

#[test]
fn a_file_crosses_a_row_of_tiles_pipelined_and_a_tombstone_follows() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[77; 32]);
    let mut keys = Keyring::new();
    keys.insert(key.public().clone());
    let mut tiles: Vec<Tile> = (0..3)
        .map(|i| {
            let links = match i {
                0 => vec![Dir::ET],
                2 => vec![Dir::WT],
                _ => vec![Dir::ET, Dir::WT],
            };
            Tile::new(&dir.path().join(format!("t{i}")), links)
        })
        .collect();
    let data: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let src = dir.path().join("src");
    fs::write(&src, &data).unwrap();
    let name = Name::new("physics.mfz").unwrap();
    let m = Manifest::build(&name, 5, data.len() as u64, &data[..], &key).unwrap();
    assert!(tiles[0].store.import(m.clone(), &src).unwrap());
    tiles[0].versions = tiles[0].store.versions();

    let mut wires = Wires::new();
    run(&mut tiles, &keys, &mut wires, |t| {
        t[2].installed_tick.is_some()
    });
    for t in &tiles {
        assert_eq!(fs::read(t.store.live_path(&name)).unwrap(), data);
        assert_eq!(t.store.installed(&name), Some(&m));
        assert_eq!(t.versions.action(&name), itc_files::Action::None);
    }
    let (b, c) = (&tiles[1], &tiles[2]);
    assert!(
        c.first_piece_tick.unwrap() < b.installed_tick.unwrap(),
        "the last tile had pieces (tick {:?}) before the middle one finished (tick {:?})",
        c.first_piece_tick,
        b.installed_tick
    );
    assert!(fs::read_dir(dir.path().join("t2/staging"))
        .unwrap()
        .next()
        .is_none());

    // Deleting on the last tile reaches the first.
    let t = Tombstone::new(&name, 5, &key);
    let out = tiles[2].store.delete(&t).unwrap();
    assert!(out.removed_live);
    tiles[2].versions.tombstone(&name, t.stamp());
    tiles[2].versions.mark_removed(&name);
    tiles[2].changed = true;
    run(&mut tiles, &keys, &mut wires, |t| {
        t.iter().all(|t| t.store.installed(&name).is_none())
    });
    for tile in &tiles {
        assert!(!tile.store.live_path(&name).exists());
        assert_eq!(tile.store.tombstone(&name), Some(&t));
    }
}
