//! Version precedence: which publish or tombstone wins for a name, so that
//! every tile that has seen the same records reaches the same state
//! whatever order they arrived in, duplicates and stale ones included.
//!
//! Rules, applied to verified records only:
//!
//! - Records are ordered by [`Stamp`]: version first, then the record id
//!   (BLAKE3 of the signed encoding) as a tie-break. Two different
//!   manifests published under the same version (an operator mistake) are
//!   resolved the same way on every tile: the larger id wins.
//! - A tombstone at version `v` deletes every version `<= v`; so at equal
//!   versions a tombstone beats a publish.
//! - A publish above the highest tombstone revives the name.
//!
//! Each name keeps the highest publish and the highest tombstone; both are
//! maxima, so applying records is commutative, associative and idempotent,
//! and replicas that saw the same set of records agree ([`Entry::state`]).
//! A publish at or below the tombstone is dropped, since no later record can
//! make it win again.
//!
//! What a tile has actually installed is tracked apart from what wins
//! ([`Versions::mark_installed`]), because installing is not idempotent: a
//! tile that already has the winner neither installs it again nor runs its
//! hook again ([`Versions::action`] says what is left to do).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use crate::id::RecordId;
use crate::name::Name;

/// A record's place in the order: version, then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Stamp {
    /// The version; larger wins.
    pub version: u64,
    /// The record id; larger wins between equal versions.
    pub id: RecordId,
}

impl Stamp {
    /// A stamp.
    pub const fn new(version: u64, id: RecordId) -> Stamp {
        Stamp { version, id }
    }
}

/// Where a name stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// This publish wins.
    Live(Stamp),
    /// This tombstone wins: the name is deleted.
    Deleted(Stamp),
}

/// What applying a record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Applied {
    /// The record is now the name's highest of its kind (pass it on).
    Taken,
    /// The record is already known, or is beaten by one known.
    Ignored,
}

/// What a tile still has to do for a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Nothing: what is installed is what wins.
    None,
    /// Fetch (if needed) and install this publish.
    Install(Stamp),
    /// Remove the installed file: a tombstone covers it.
    Remove,
}

/// The records known for one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Entry {
    publish: Option<Stamp>,
    tombstone: Option<Stamp>,
}

impl Entry {
    /// Whether a publish with this stamp would be taken.
    pub fn wants_publish(&self, s: Stamp) -> bool {
        self.tombstone.is_none_or(|t| s.version > t.version) && self.publish.is_none_or(|p| s > p)
    }

    /// Whether a tombstone with this stamp would be taken.
    pub fn wants_tombstone(&self, s: Stamp) -> bool {
        self.tombstone.is_none_or(|t| s > t)
    }

    /// Applies a publish.
    pub fn publish(&mut self, s: Stamp) -> Applied {
        if !self.wants_publish(s) {
            return Applied::Ignored;
        }
        self.publish = Some(s);
        Applied::Taken
    }

    /// Applies a tombstone.
    pub fn tombstone(&mut self, s: Stamp) -> Applied {
        if !self.wants_tombstone(s) {
            return Applied::Ignored;
        }
        self.tombstone = Some(s);
        if self.publish.is_some_and(|p| p.version <= s.version) {
            self.publish = None;
        }
        Applied::Taken
    }

    /// The winning record, if any.
    pub fn state(&self) -> Option<State> {
        match (self.publish, self.tombstone) {
            (Some(p), _) => Some(State::Live(p)),
            (None, Some(t)) => Some(State::Deleted(t)),
            (None, None) => None,
        }
    }

    /// The highest publish (above the highest tombstone).
    pub fn publish_stamp(&self) -> Option<Stamp> {
        self.publish
    }

    /// The highest tombstone, even when a later publish beats it.
    pub fn tombstone_stamp(&self) -> Option<Stamp> {
        self.tombstone
    }
}

/// Every name's records, and what this tile has installed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Versions {
    entries: BTreeMap<Name, Entry>,
    installed: BTreeMap<Name, Stamp>,
}

impl Versions {
    /// No records.
    pub fn new() -> Versions {
        Versions::default()
    }

    /// The records for `name`.
    pub fn entry(&self, name: &Name) -> Entry {
        self.entries.get(name).copied().unwrap_or_default()
    }

    /// Whether a publish of `name` with stamp `s` would be taken: worth
    /// fetching and verifying its manifest.
    pub fn wants_publish(&self, name: &Name, s: Stamp) -> bool {
        self.entry(name).wants_publish(s)
    }

    /// Whether a tombstone of `name` with stamp `s` would be taken.
    pub fn wants_tombstone(&self, name: &Name, s: Stamp) -> bool {
        self.entry(name).wants_tombstone(s)
    }

    /// Applies a verified publish.
    pub fn publish(&mut self, name: &Name, s: Stamp) -> Applied {
        self.entries.entry(name.clone()).or_default().publish(s)
    }

    /// Applies a verified tombstone.
    pub fn tombstone(&mut self, name: &Name, s: Stamp) -> Applied {
        self.entries.entry(name.clone()).or_default().tombstone(s)
    }

    /// Where `name` stands.
    pub fn state(&self, name: &Name) -> Option<State> {
        self.entries.get(name).and_then(Entry::state)
    }

    /// Every name with records, in order.
    pub fn names(&self) -> impl Iterator<Item = (&Name, &Entry)> {
        self.entries.iter()
    }

    /// What is installed for `name`.
    pub fn installed(&self, name: &Name) -> Option<Stamp> {
        self.installed.get(name).copied()
    }

    /// Records that `s` is installed for `name` (its hook may now run once).
    pub fn mark_installed(&mut self, name: &Name, s: Stamp) {
        self.installed.insert(name.clone(), s);
    }

    /// Records that nothing is installed for `name`.
    pub fn mark_removed(&mut self, name: &Name) {
        self.installed.remove(name);
    }

    /// What is left to do for `name`.
    pub fn action(&self, name: &Name) -> Action {
        let installed = self.installed(name);
        match self.state(name) {
            Some(State::Live(s)) if installed != Some(s) => Action::Install(s),
            Some(State::Deleted(_)) if installed.is_some() => Action::Remove,
            _ => Action::None,
        }
    }

    /// The states of all names, for comparing replicas.
    pub fn states(&self) -> BTreeMap<Name, State> {
        self.entries
            .iter()
            .filter_map(|(n, e)| e.state().map(|s| (n.clone(), s)))
            .collect()
    }
}

/// The version a new publish gets by default: the current time in seconds,
/// or one more than the highest version known for the name if that is
/// larger, so a publish always wins over what the tile has seen.
pub fn next_version(known: Option<u64>, now_secs: u64) -> u64 {
    match known {
        Some(k) => now_secs.max(k.saturating_add(1)),
        None => now_secs,
    }
}

#[cfg(test)]
#[path = "version_tests.rs"]
mod tests;
