//! When and what to announce. The transfer rules ask for three kinds:
//!
//! - To one neighbour, everything: when it connects and when it asks
//!   (SOLICIT) ([`Announcer::all_to`]).
//! - To every neighbour, what changed (a manifest accepted, a piece
//!   verified, an install, a tombstone), coalesced so that a busy transfer
//!   announces at most every [`COALESCE`] ([`Announcer::changed`], then
//!   [`Announcer::flush`] on the timer).
//! - To every neighbour, what changed once more [`RECAP`] after the last
//!   change ([`Announcer::recap`]): a lost packet then costs a second, not
//!   a periodic round, when it carried the last news of a file (that it
//!   is complete, or deleted).
//! - To every neighbour, everything, every [`PERIOD`] with jitter of a
//!   fifth either way, so tiles do not fall into step
//!   ([`Announcer::periodic`]).
//!
//! What to say about a name comes from the store ([`Store::announce`]): the
//! newest version held, complete or with its pieces. A change that did not
//! fit the outbound queue is kept and announced on the next round. Memory:
//! one set of names with changes, bounded by the names in the store.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use itc_files::wire::{Message, MAX_BITMAP};
use itc_files::{Name, Store};
use itc_service::{Dir, Service};

use crate::counters::Counters;
use crate::sender::send;
use crate::timers;

/// The shortest time between two announces of changes.
pub const COALESCE: Duration = Duration::from_millis(250);
/// How long after the last change its announce is repeated.
pub const RECAP: Duration = Duration::from_secs(1);
/// The time between two announces of everything, before jitter.
pub const PERIOD: Duration = Duration::from_secs(30);

/// Announcement state.
#[derive(Debug)]
pub struct Announcer {
    /// Names whose file or fetch changed since the last flush.
    changed: BTreeSet<Name>,
    /// Names whose tombstone changed since the last flush.
    tombstones: BTreeSet<Name>,
    /// Names (and tombstones) flushed since the last recap.
    recent: BTreeSet<Name>,
    recent_tombstones: BTreeSet<Name>,
    last_flush: Option<Instant>,
    armed: bool,
    rng: u64,
}

impl Announcer {
    /// Nothing to announce yet; `seed` varies the periodic jitter.
    pub fn new(seed: u64) -> Announcer {
        Announcer {
            changed: BTreeSet::new(),
            tombstones: BTreeSet::new(),
            recent: BTreeSet::new(),
            recent_tombstones: BTreeSet::new(),
            last_flush: None,
            armed: false,
            rng: seed | 1,
        }
    }

    /// Notes that what the store holds of `name` changed.
    pub fn changed(&mut self, svc: &mut Service, name: &Name) {
        self.changed.insert(name.clone());
        self.arm(svc);
    }

    /// Notes that the tombstone of `name` changed.
    pub fn tombstone_changed(&mut self, svc: &mut Service, name: &Name) {
        self.tombstones.insert(name.clone());
        self.arm(svc);
    }

    fn arm(&mut self, svc: &mut Service) {
        if self.armed {
            return;
        }
        let now = Instant::now();
        let at = self.last_flush.map_or(now, |l| (l + COALESCE).max(now));
        svc.set_timer(at - now, timers::ANNOUNCE);
        self.armed = true;
    }

    /// The [`timers::ANNOUNCE`] timer: announces the changes to every
    /// neighbour.
    pub fn flush(&mut self, svc: &mut Service, store: &Store, counters: &mut Counters) {
        self.armed = false;
        self.last_flush = Some(Instant::now());
        let changed = std::mem::take(&mut self.changed);
        let tombstones = std::mem::take(&mut self.tombstones);
        let (again, tombs_again) = to_all(svc, store, &changed, &tombstones, counters);
        self.recent.extend(changed);
        self.recent_tombstones.extend(tombstones);
        svc.set_timer(RECAP, timers::RECAP);
        for name in again {
            self.changed(svc, &name);
        }
        for name in tombs_again {
            self.tombstone_changed(svc, &name);
        }
    }

    /// The [`timers::RECAP`] timer: what changed, once more.
    pub fn recap(&mut self, svc: &mut Service, store: &Store, counters: &mut Counters) {
        let names = std::mem::take(&mut self.recent);
        let tombstones = std::mem::take(&mut self.recent_tombstones);
        to_all(svc, store, &names, &tombstones, counters);
    }

    /// Announces everything the store holds to `dir`.
    pub fn all_to(&mut self, svc: &mut Service, store: &Store, dir: Dir, counters: &mut Counters) {
        for name in store.names() {
            announce_name(svc, store, &name, dir, counters);
        }
        let names: Vec<Name> = store.tombstones().map(|t| t.name().clone()).collect();
        for name in names {
            send_tombstone(svc, store, &name, dir, counters);
        }
    }

    /// The [`timers::PERIODIC`] timer: everything to every neighbour, and
    /// the next round timed.
    pub fn periodic(&mut self, svc: &mut Service, store: &Store, counters: &mut Counters) {
        let dirs: Vec<Dir> = svc.neighbours().collect();
        for dir in dirs {
            self.all_to(svc, store, dir, counters);
        }
        self.schedule_periodic(svc);
    }

    /// Times the next periodic round.
    pub fn schedule_periodic(&mut self, svc: &mut Service) {
        // xorshift64: enough to keep tiles out of step.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let fifth = PERIOD.as_millis() as u64 / 5;
        let jitter = self.rng % (2 * fifth + 1);
        let after = PERIOD - Duration::from_millis(fifth) + Duration::from_millis(jitter);
        svc.set_timer(after, timers::PERIODIC);
    }
}

/// Announces `names` and sends the tombstones of `tombstones` to every
/// neighbour; returns those that did not fit a queue somewhere.
fn to_all(
    svc: &mut Service,
    store: &Store,
    names: &BTreeSet<Name>,
    tombstones: &BTreeSet<Name>,
    counters: &mut Counters,
) -> (Vec<Name>, Vec<Name>) {
    let dirs: Vec<Dir> = svc.neighbours().collect();
    let mut again = Vec::new();
    for name in names {
        let mut ok = true;
        for &dir in &dirs {
            ok &= announce_name(svc, store, name, dir, counters);
        }
        if !ok {
            again.push(name.clone());
        }
    }
    let mut tombs_again = Vec::new();
    for name in tombstones {
        let mut ok = true;
        for &dir in &dirs {
            ok &= send_tombstone(svc, store, name, dir, counters);
        }
        if !ok {
            tombs_again.push(name.clone());
        }
    }
    (again, tombs_again)
}

/// Announces `name` to `dir`; false if it did not fit the queue.
fn announce_name(
    svc: &mut Service,
    store: &Store,
    name: &Name,
    dir: Dir,
    counters: &mut Counters,
) -> bool {
    let mut bits = [0u8; MAX_BITMAP];
    let Some(a) = store.announce(name, &mut bits) else {
        return true;
    };
    let sent = send(svc, dir, &Message::Announce(a));
    if sent {
        counters.announces_sent += 1;
    } else {
        counters.announces_dropped += 1;
    }
    sent
}

/// Sends the tombstone held for `name` to `dir`; false if it did not fit.
fn send_tombstone(
    svc: &mut Service,
    store: &Store,
    name: &Name,
    dir: Dir,
    counters: &mut Counters,
) -> bool {
    let Some(t) = store.tombstone(name) else {
        return true;
    };
    let sent = send(svc, dir, &Message::Tombstone(t.bytes()));
    if !sent {
        counters.announces_dropped += 1;
    }
    sent
}
