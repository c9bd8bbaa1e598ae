//! The file service of one tile: the coordinator that owns the store, the
//! version records, the trusted keys, the fetches, the announcer and the
//! counters, and moves small values between them. The service library
//! hands it packets and neighbour events; the control socket hands it
//! local publishes and deletions.
//!
//! Rules it applies (`docs/file-protocol.md` has them in full):
//!
//! - Input from a neighbour is hostile until verified: a message that does
//!   not parse, a record that is not signed by a trusted key, a manifest
//!   that is oversized or does not hash to its id, a piece that fails its
//!   hash, data nobody asked for: each is dropped and counted by reason
//!   ([`Bad`]), never a panic, never written to `live/`. Sound input that
//!   comes twice or too late (a chunk already here, RETRY or ABORT for no
//!   transfer in progress, a manifest overtaken meanwhile) is dropped and
//!   counted too (`dropped_duplicate`, `dropped_stale`).
//! - An announced version is fetched only if it would win; what is being
//!   fetched is bounded ([`crate::fetches`]).
//! - A verified piece is stored and announced (coalesced) at once, so it is
//!   served onward while the rest arrives; when the last one is in, the
//!   file is installed and its install is handed out for its hook
//!   ([`Node::take_installed`]).
//! - A full disk stops a fetch with an error in the status and a log line;
//!   `live/` stays as it was and the fetch resumes on a timer once there is
//!   room.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use itc_files::wire::{Announce, Locator, Message};
use itc_files::{
    Event, Keyring, Manifest, ManifestError, Name, RecordId, Stamp, Store, StoreError, Tombstone,
    TombstoneError, Transfer, VerifyError, Versions,
};
use itc_service::{Dir, Service};

use crate::announce::Announcer;
use crate::counters::{Bad, Counters};
use crate::fetches::{Fetch, Fetches, MAX_PENDING, MAX_PENDING_PER_NEIGHBOUR, PENDING_STALL};
use crate::sender::{send, send_request};
use crate::serve::{self, Superseded};
use crate::timers;

/// How long to wait before trying again what a full disk stopped.
pub const DISK_RETRY: Duration = Duration::from_secs(2);

/// A version that went live here, for its hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The name.
    pub name: Name,
    /// Version and manifest id.
    pub stamp: Stamp,
    /// Its live path.
    pub path: PathBuf,
}

/// The file service's state; see the module documentation.
#[derive(Debug)]
pub struct Node {
    pub(crate) store: Store,
    pub(crate) versions: Versions,
    pub(crate) keys: Keyring,
    pub(crate) keys_dir: PathBuf,
    pub(crate) fetches: Fetches,
    pub(crate) counters: Counters,
    announcer: Announcer,
    superseded: Superseded,
    installed: Vec<Installed>,
    /// Grows with every change a watcher would see.
    pub(crate) generation: u64,
    /// When the earliest RETRY delay ends.
    retry_wake: Option<Instant>,
    disk_retry_armed: bool,
}

impl Node {
    /// The service over `store`, trusting `keys` (read from `keys_dir`);
    /// fetches left in the store resume.
    pub fn new(store: Store, keys: Keyring, keys_dir: &Path, seed: u64) -> Node {
        let mut fetches = Fetches::new();
        for s in store.fetches() {
            let t = Transfer::resume(s.manifest().clone(), s.pieces().clone());
            fetches.insert(Fetch::resumed(t));
        }
        Node {
            versions: store.versions(),
            store,
            keys,
            keys_dir: keys_dir.to_owned(),
            fetches,
            counters: Counters::default(),
            announcer: Announcer::new(seed),
            superseded: Superseded::default(),
            installed: Vec::new(),
            generation: 0,
            retry_wake: None,
            disk_retry_armed: false,
        }
    }

    /// Starts the periodic announces.
    pub fn start(&mut self, svc: &mut Service) {
        self.announcer.schedule_periodic(svc);
    }

    /// Replaces the trusted keys.
    pub fn set_keys(&mut self, keys: Keyring) {
        self.keys = keys;
    }

    /// The ids of the trusted keys, as text.
    pub fn keys_ids(&self) -> Vec<String> {
        self.keys.ids().map(|k| k.to_string()).collect()
    }

    /// The versions installed since the last call, for their hooks.
    pub fn take_installed(&mut self) -> Vec<Installed> {
        std::mem::take(&mut self.installed)
    }

    fn touch(&mut self) {
        self.generation += 1;
    }

    // ---- neighbours ------------------------------------------------------

    /// A neighbour connected: tell it everything and ask it to do the same
    /// (it may not have seen this daemon start).
    pub fn on_connect(&mut self, svc: &mut Service, dir: Dir) {
        self.announcer
            .all_to(svc, &self.store, dir, &mut self.counters);
        send(svc, dir, &Message::Solicit);
        self.touch();
    }

    /// A neighbour went away: it serves nothing any more.
    pub fn on_disconnect(&mut self, dir: Dir) {
        for id in self.fetches.remove_source(dir) {
            self.fetches.remove(id);
        }
        self.touch();
    }

    /// A service-8 packet's payload from `dir`.
    pub fn on_packet(&mut self, svc: &mut Service, dir: Dir, payload: &[u8]) {
        let msg = match Message::parse(payload) {
            Ok(m) => m,
            Err(e) => {
                self.counters.bad(Bad::Unparsable);
                tracing::debug!("{dir}: dropped a message: {e}");
                return;
            }
        };
        match msg {
            Message::Announce(a) => self.on_announce(dir, a),
            Message::Tombstone(record) => self.on_tombstone(svc, dir, record),
            Message::Request { at, count } => serve::answer(
                &self.store,
                &self.superseded,
                svc,
                dir,
                at,
                count,
                &mut self.counters,
            ),
            Message::Data { at, data } => self.on_data(svc, dir, at, data),
            Message::Retry { at, delay_ms } => {
                self.counters.retries_received += 1;
                let now = Instant::now();
                let delay = Duration::from_millis(delay_ms.into());
                if let Some(f) = self.fetch_by_short(&at) {
                    f.transfer.on_retry(dir, &at, delay, now);
                    let wake = now + delay;
                    self.retry_wake = Some(self.retry_wake.map_or(wake, |w| w.min(wake)));
                } else {
                    self.counters.dropped_stale += 1;
                }
            }
            Message::Abort { id, reason } => {
                self.counters.aborts_received += 1;
                tracing::debug!("{dir}: abort {id}: {reason:?}");
                if let Some(f) = self
                    .fetches
                    .resolve(id)
                    .and_then(|i| self.fetches.get_mut(i))
                {
                    f.transfer.remove_source(dir);
                } else {
                    self.counters.dropped_stale += 1;
                }
            }
            Message::Solicit => self
                .announcer
                .all_to(svc, &self.store, dir, &mut self.counters),
        }
    }

    fn fetch_by_short(&mut self, at: &Locator) -> Option<&mut Fetch> {
        let id = self.fetches.resolve(at.id)?;
        self.fetches.get_mut(id)
    }

    fn on_announce(&mut self, dir: Dir, a: Announce<'_>) {
        self.counters.announces_received += 1;
        let stamp = Stamp::new(a.version, a.manifest_id);
        if let Some(f) = self.fetches.get_mut(a.manifest_id) {
            f.transfer.add_source(dir, &a.have);
            self.touch();
            return;
        }
        if !self.versions.wants_publish(&a.name, stamp) {
            return;
        }
        // One pending manifest per name: the newest announced.
        if let Some(p) = self.fetches.pending_for(&a.name) {
            if p.stamp > stamp {
                return;
            }
            let old = p.stamp.id;
            self.fetches.remove(old);
        }
        if self.fetches.pending_count() >= MAX_PENDING
            || self.fetches.pending_from(dir) >= MAX_PENDING_PER_NEIGHBOUR
        {
            self.counters.busy += 1;
            return;
        }
        tracing::debug!("{dir}: fetching {} version {}", a.name, a.version);
        let mut f = Fetch::announced(a.name.clone(), stamp, a.manifest_len as usize, dir);
        f.transfer.add_source(dir, &a.have);
        self.fetches.insert(f);
        self.touch();
    }

    fn on_tombstone(&mut self, svc: &mut Service, dir: Dir, record: &[u8]) {
        let t = match Tombstone::parse_verified(record, &self.keys) {
            Ok(t) => t,
            Err(e) => {
                self.counters.bad(match e {
                    TombstoneError::Untrusted(VerifyError::UnknownKey(_)) => Bad::Unsigned,
                    TombstoneError::Untrusted(VerifyError::BadSignature(_)) => Bad::Signature,
                    _ => Bad::Tombstone,
                });
                tracing::debug!("{dir}: dropped a tombstone: {e}");
                return;
            }
        };
        if let Err(e) = self.apply_tombstone(svc, &t) {
            self.disk_error(svc, &e);
        }
    }

    /// Applies a verified tombstone if it is newer than the one held;
    /// returns whether it was.
    fn apply_tombstone(&mut self, svc: &mut Service, t: &Tombstone) -> Result<bool, StoreError> {
        let name = t.name();
        if !self.versions.wants_tombstone(name, t.stamp()) {
            return Ok(false);
        }
        let out = self.store.delete(t)?;
        self.versions.tombstone(name, t.stamp());
        if out.removed_live {
            self.versions.mark_removed(name);
        }
        for id in out.abandoned {
            self.drop_fetch(id);
        }
        let covered = self
            .fetches
            .ids_where(|f| &f.name == name && f.stamp.version <= t.version());
        for id in covered {
            self.drop_fetch(id);
        }
        self.counters.deletes += 1;
        tracing::info!("deleted {name} up to version {}", t.version());
        self.announcer.tombstone_changed(svc, name);
        self.announcer.changed(svc, name);
        self.touch();
        Ok(true)
    }

    fn drop_fetch(&mut self, id: RecordId) {
        if self.fetches.remove(id).is_some() {
            self.superseded.push(id.short());
        }
    }

    // ---- fetching --------------------------------------------------------

    fn on_data(&mut self, svc: &mut Service, dir: Dir, at: Locator, data: &[u8]) {
        let Some(id) = self.fetches.resolve(at.id) else {
            self.counters.bad(Bad::UnexpectedData);
            return;
        };
        let Some(f) = self.fetches.get_mut(id) else {
            self.counters.bad(Bad::UnexpectedData);
            return;
        };
        let event = f.transfer.on_data(dir, &at, data);
        if !matches!(event, Event::Unexpected | Event::Duplicate) {
            f.progress_at = Instant::now();
        }
        match event {
            Event::None => {}
            Event::Duplicate => self.counters.dropped_duplicate += 1,
            Event::Unexpected => self.counters.bad(Bad::UnexpectedData),
            Event::BadPiece(i) => {
                self.counters.bad(Bad::Piece);
                tracing::warn!("{dir}: piece {i} of {} failed its hash", f.name);
            }
            Event::ManifestReady(bytes) => self.manifest_ready(svc, id, &bytes),
            Event::PieceReady(i, bytes) => self.piece_ready(svc, id, i, &bytes),
        }
    }

    fn manifest_ready(&mut self, svc: &mut Service, id: RecordId, bytes: &[u8]) {
        let checked = Manifest::parse_verified(bytes, &self.keys).map_err(|e| {
            let why = match e {
                ManifestError::Untrusted(VerifyError::UnknownKey(_)) => Bad::Unsigned,
                ManifestError::Untrusted(VerifyError::BadSignature(_)) => Bad::Signature,
                ManifestError::FileTooLong(_)
                | ManifestError::TooManyPieces(_)
                | ManifestError::TooLong { .. } => Bad::Oversized,
                _ => Bad::Manifest,
            };
            (why, e.to_string())
        });
        let m = match checked {
            Ok(m) if m.id() == id => m,
            Ok(_) => {
                self.manifest_failed(id, Bad::Manifest, "it does not hash to its id");
                return;
            }
            Err((why, text)) => {
                self.manifest_failed(id, why, &text);
                return;
            }
        };
        if !self.versions.wants_publish(m.name(), m.stamp()) {
            // Something newer arrived meanwhile, or it lied about its name.
            self.counters.dropped_stale += 1;
            self.fetches.remove(id);
            return;
        }
        self.stage(svc, id, m);
    }

    fn manifest_failed(&mut self, id: RecordId, why: Bad, text: &str) {
        self.counters.bad(why);
        let Some(f) = self.fetches.get_mut(id) else {
            return;
        };
        tracing::warn!("dropped a manifest for {}: {text}", f.name);
        f.transfer.manifest_failed();
        if f.transfer.source_count() == 0 {
            self.fetches.remove(id);
        }
    }

    /// Reserves room for the verified manifest `m` of fetch `id` and starts
    /// on its pieces, or waits for space.
    fn stage(&mut self, svc: &mut Service, id: RecordId, m: Manifest) {
        match self.store.begin_fetch(m.clone()) {
            Ok(older) => {
                for o in older {
                    self.drop_fetch(o);
                }
            }
            Err(StoreError::Deleted { .. }) => {
                self.fetches.remove(id);
                return;
            }
            Err(e) => {
                if let Some(f) = self.fetches.get_mut(id) {
                    f.waiting = Some(m);
                    f.error = Some(e.to_string());
                }
                self.disk_error(svc, &e);
                return;
            }
        }
        let have = match self.store.fetch(id) {
            Some(s) => s.pieces().clone(),
            None => return,
        };
        let complete = have.is_complete();
        self.versions.publish(m.name(), m.stamp());
        self.counters.fetches_started += 1;
        let name = m.name().clone();
        tracing::info!(
            "fetching {name} version {}: {} bytes in {} pieces",
            m.version(),
            m.length(),
            m.piece_count()
        );
        if let Some(f) = self.fetches.get_mut(id) {
            f.name = name.clone();
            f.waiting = None;
            f.error = None;
            f.transfer.start_pieces(m, have);
        }
        self.announcer.changed(svc, &name);
        self.touch();
        if complete {
            self.install(svc, id);
        }
    }

    fn piece_ready(&mut self, svc: &mut Service, id: RecordId, i: u32, bytes: &[u8]) {
        let now = Instant::now();
        match self.store.write_piece(id, i, bytes) {
            Ok(w) => {
                self.counters.pieces_received += 1;
                let Some(f) = self.fetches.get_mut(id) else {
                    return;
                };
                f.count_piece(now, bytes.len() as u64);
                f.error = None;
                let name = f.name.clone();
                self.announcer.changed(svc, &name);
                self.touch();
                if w.complete {
                    self.install(svc, id);
                }
            }
            Err(StoreError::NoSuchFetch(_)) => {
                self.counters.dropped_stale += 1;
                self.fetches.remove(id);
            }
            Err(e) => {
                if let Some(f) = self.fetches.get_mut(id) {
                    f.transfer.piece_lost(i);
                    f.paused_until = Some(now + DISK_RETRY);
                    f.error = Some(e.to_string());
                }
                self.disk_error(svc, &e);
            }
        }
    }

    /// Makes the complete fetch `id` live.
    fn install(&mut self, svc: &mut Service, id: RecordId) {
        let Some(m) = self.store.fetch(id).map(|s| s.manifest().clone()) else {
            self.fetches.remove(id);
            return;
        };
        match self.store.install(id) {
            Ok(true) => {
                self.fetches.remove(id);
                self.installed_now(svc, &m);
            }
            Ok(false) => {
                self.drop_fetch(id);
            }
            Err(e) => {
                if let Some(f) = self.fetches.get_mut(id) {
                    f.error = Some(e.to_string());
                }
                self.disk_error(svc, &e);
            }
        }
        self.touch();
    }

    fn installed_now(&mut self, svc: &mut Service, m: &Manifest) {
        let name = m.name().clone();
        self.versions.mark_installed(&name, m.stamp());
        self.counters.installs += 1;
        tracing::info!("{name} version {} is live", m.version());
        self.installed.push(Installed {
            path: self.store.live_path(&name),
            name: name.clone(),
            stamp: m.stamp(),
        });
        self.announcer.changed(svc, &name);
    }

    /// Logs a store failure and times another try.
    fn disk_error(&mut self, svc: &mut Service, e: &StoreError) {
        if matches!(e, StoreError::DiskFull(_)) {
            self.counters.disk_full += 1;
        }
        tracing::error!("{e}");
        if !self.disk_retry_armed {
            self.disk_retry_armed = true;
            svc.set_timer(DISK_RETRY, timers::DISK_RETRY);
        }
        self.touch();
    }

    /// The [`timers::DISK_RETRY`] timer: stage the manifests that waited
    /// for room, install what is complete.
    pub fn retry_disk(&mut self, svc: &mut Service) {
        self.disk_retry_armed = false;
        let waiting: Vec<(RecordId, Manifest)> = self
            .fetches
            .iter()
            .filter_map(|f| f.waiting.clone().map(|m| (f.stamp.id, m)))
            .collect();
        for (id, m) in waiting {
            self.stage(svc, id, m);
        }
        let complete = self.fetches.ids_where(|f| f.transfer.is_complete());
        for id in complete {
            self.install(svc, id);
        }
    }

    /// Asks for what the windows allow and times the next call: the
    /// earliest request deadline, RETRY delay or pause.
    pub fn pump(&mut self, svc: &mut Service) {
        let now = Instant::now();
        let mut next: Option<Instant> = self.retry_wake.filter(|t| *t > now);
        self.retry_wake = next;
        let stalled = self
            .fetches
            .ids_where(|f| f.is_pending() && now.duration_since(f.progress_at) > PENDING_STALL);
        for id in stalled {
            tracing::debug!("dropped a manifest fetch that made no progress");
            self.fetches.remove(id);
        }
        let mut sent = 0u64;
        for f in self.fetches.iter_mut() {
            if f.is_pending() {
                let t = f.progress_at + PENDING_STALL;
                next = Some(next.map_or(t, |n| n.min(t)));
            }
            if !f.is_active(now) {
                if let Some(t) = f.paused_until {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
                continue;
            }
            f.paused_until = None;
            f.transfer.expire(now);
            f.transfer.poll_requests(now, &mut |dir, msg| {
                let ok = send_request(svc, dir, msg);
                sent += u64::from(ok);
                ok
            });
            if let Some(t) = f.transfer.next_deadline() {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        self.counters.requests_sent += sent;
        match next {
            Some(t) => svc.set_timer(t.saturating_duration_since(now), timers::PUMP),
            None => {
                svc.cancel_timer(timers::PUMP);
            }
        }
    }

    /// The [`timers::ANNOUNCE`] timer.
    pub fn announce_changes(&mut self, svc: &mut Service) {
        self.announcer.flush(svc, &self.store, &mut self.counters);
    }

    /// The [`timers::RECAP`] timer.
    pub fn announce_recap(&mut self, svc: &mut Service) {
        self.announcer.recap(svc, &self.store, &mut self.counters);
    }

    /// The [`timers::PERIODIC`] timer.
    pub fn announce_periodic(&mut self, svc: &mut Service) {
        self.announcer
            .periodic(svc, &self.store, &mut self.counters);
    }

    // ---- local publishes and deletions -----------------------------------

    /// Publishes the file open as `content` under the signed `manifest`
    /// (from the control socket); returns a line for the person.
    pub fn publish(
        &mut self,
        svc: &mut Service,
        manifest: &[u8],
        content: &OwnedFd,
    ) -> Result<String, String> {
        let m = Manifest::parse_verified(manifest, &self.keys).map_err(|e| match e {
            ManifestError::Untrusted(v) => self.untrusted(v),
            e => format!("the manifest is not valid: {e}"),
        })?;
        let name = m.name().clone();
        if !self.versions.wants_publish(&name, m.stamp()) {
            return Err(format!(
                "{name} version {} is not newer than what this tile has ({}); publish with a higher --version",
                m.version(),
                self.describe(&name)
            ));
        }
        // The descriptor's file, opened again from its start by the store.
        let path = PathBuf::from(format!("/proc/self/fd/{}", content.as_raw_fd()));
        let result = self.store.import(m.clone(), &path);
        self.forget_dropped_fetches();
        match result {
            Ok(true) => {}
            Ok(false) => return Err(format!("{name} has something as new or a deletion")),
            Err(e) => {
                if matches!(e, StoreError::DiskFull(_)) {
                    self.counters.disk_full += 1;
                }
                return Err(e.to_string());
            }
        }
        self.versions.publish(&name, m.stamp());
        self.counters.published += 1;
        self.installed_now(svc, &m);
        self.touch();
        Ok(format!(
            "published {name} version {} ({} bytes, {} pieces, id {})",
            m.version(),
            m.length(),
            m.piece_count(),
            m.id().short()
        ))
    }

    /// Applies the signed tombstone `record` (from the control socket).
    pub fn delete(&mut self, svc: &mut Service, record: &[u8]) -> Result<String, String> {
        let t = Tombstone::parse_verified(record, &self.keys).map_err(|e| match e {
            TombstoneError::Untrusted(v) => self.untrusted(v),
            e => format!("the tombstone is not valid: {e}"),
        })?;
        let name = t.name().clone();
        let described = self.describe(&name);
        match self.apply_tombstone(svc, &t) {
            Ok(true) => Ok(format!("deleted {name} up to version {}", t.version())),
            Ok(false) => Err(format!(
                "{name} is already deleted at version {} or later ({described})",
                t.version()
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    fn untrusted(&self, e: VerifyError) -> String {
        match e {
            VerifyError::UnknownKey(k) => format!(
                "key {k} is not trusted by this daemon: copy its .pub file into {} and send the daemon SIGHUP",
                self.keys_dir.display()
            ),
            VerifyError::BadSignature(k) => {
                format!("the signature by key {k} does not check out")
            }
        }
    }

    /// What this tile has of `name`, for messages.
    fn describe(&self, name: &Name) -> String {
        let e = self.versions.entry(name);
        match (e.publish_stamp(), e.tombstone_stamp()) {
            (Some(p), _) => format!("version {}", p.version),
            (None, Some(t)) => format!("deleted up to version {}", t.version),
            (None, None) => "nothing".to_string(),
        }
    }

    /// Drops the staged fetches the store let go of (a local publish
    /// replaced them).
    fn forget_dropped_fetches(&mut self) {
        let gone = self
            .fetches
            .ids_where(|f| f.is_staged() && self.store.fetch(f.stamp.id).is_none());
        for id in gone {
            self.drop_fetch(id);
        }
    }
}
