//! The state of one direction: its link and the tile at the far end.
//!
//! The link is `up` while the PRU reports packet sync. The neighbour is
//! `present` while the link is up and hellos from the far `itcd` keep
//! arriving; it becomes absent when the link goes down or no hello came for
//! the absence timeout. Each transition of presence is reported once, so the
//! caller can emit exactly one Connect or Disconnect.

use std::time::{Duration, Instant, SystemTime};

/// A change of presence, to be announced as a Tile Event Packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The neighbour became present.
    Connected,
    /// The neighbour stopped being present.
    Disconnected,
}

/// Link and neighbour state of one direction.
#[derive(Debug, Clone)]
pub struct Neighbour {
    link_up: bool,
    present: bool,
    name: String,
    physics: Option<String>,
    last_hello: Option<Instant>,
    since: SystemTime,
}

impl Default for Neighbour {
    fn default() -> Self {
        Neighbour {
            link_up: false,
            present: false,
            name: String::new(),
            physics: None,
            last_hello: None,
            since: SystemTime::now(),
        }
    }
}

impl Neighbour {
    /// Whether the PRU reports packet sync.
    pub fn link_up(&self) -> bool {
        self.link_up
    }

    /// Whether the far `itcd` is known to be there.
    pub fn present(&self) -> bool {
        self.present
    }

    /// The far tile's name from its last hello (empty if never heard).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The far tile's physics id from its last hello, if any was heard.
    pub fn physics(&self) -> Option<&str> {
        self.physics.as_deref()
    }

    /// When presence last changed (start-up time if it never did).
    pub fn since(&self) -> SystemTime {
        self.since
    }

    /// Whether MFM traffic may flow: present with an equal physics id.
    pub fn compatible(&self, ours: &str) -> bool {
        self.present && self.physics.as_deref() == Some(ours)
    }

    /// The PRU reported sync gained (`true`) or lost (`false`).
    pub fn set_link(&mut self, up: bool) -> Option<Change> {
        self.link_up = up;
        if !up {
            self.last_hello = None;
            return self.set_present(false);
        }
        None
    }

    /// A hello arrived. Presence needs the link up.
    pub fn hello(&mut self, name: &str, physics: &str, now: Instant) -> Option<Change> {
        if !self.link_up {
            return None;
        }
        if self.name != name {
            self.name = name.to_string();
        }
        if self.physics.as_deref() != Some(physics) {
            self.physics = Some(physics.to_string());
        }
        self.last_hello = Some(now);
        self.set_present(true)
    }

    /// When the neighbour will be declared absent unless a hello arrives.
    pub fn deadline(&self, absent_after: Duration) -> Option<Instant> {
        match (self.present, self.last_hello) {
            (true, Some(t)) => Some(t + absent_after),
            _ => None,
        }
    }

    /// Declare the neighbour absent if its hellos stopped.
    pub fn expire(&mut self, now: Instant, absent_after: Duration) -> Option<Change> {
        match self.deadline(absent_after) {
            Some(d) if now >= d => {
                self.last_hello = None;
                self.set_present(false)
            }
            _ => None,
        }
    }

    fn set_present(&mut self, present: bool) -> Option<Change> {
        if self.present == present {
            return None;
        }
        self.present = present;
        self.since = SystemTime::now();
        Some(if present {
            Change::Connected
        } else {
            Change::Disconnected
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABSENT: Duration = Duration::from_millis(3500);

    #[test]
    fn hello_needs_the_link() {
        let mut n = Neighbour::default();
        let t = Instant::now();
        assert_eq!(n.hello("a", "", t), None);
        assert!(!n.present());
        assert_eq!(n.set_link(true), None);
        assert_eq!(n.hello("a", "p", t), Some(Change::Connected));
        assert_eq!(n.hello("a", "p", t), None, "one Connect per transition");
        assert_eq!(n.name(), "a");
        assert_eq!(n.physics(), Some("p"));
    }

    #[test]
    fn link_loss_disconnects_once() {
        let mut n = Neighbour::default();
        n.set_link(true);
        n.hello("a", "", Instant::now());
        assert_eq!(n.set_link(false), Some(Change::Disconnected));
        assert_eq!(n.set_link(false), None);
        assert!(!n.present());
        assert_eq!(n.deadline(ABSENT), None);
    }

    #[test]
    fn silence_expires_at_the_deadline_and_not_before() {
        let mut n = Neighbour::default();
        let t = Instant::now();
        n.set_link(true);
        n.hello("a", "", t);
        assert_eq!(n.deadline(ABSENT), Some(t + ABSENT));
        assert_eq!(
            n.expire(t + ABSENT - Duration::from_millis(1), ABSENT),
            None
        );
        assert_eq!(n.expire(t + ABSENT, ABSENT), Some(Change::Disconnected));
        assert_eq!(n.expire(t + ABSENT * 2, ABSENT), None);
        // Hellos resume: present again.
        assert_eq!(n.hello("a", "", t + ABSENT * 3), Some(Change::Connected));
    }

    #[test]
    fn compatibility_needs_presence_and_equal_physics() {
        let mut n = Neighbour::default();
        assert!(!n.compatible(""), "unknown physics is not compatible");
        n.set_link(true);
        n.hello("a", "x", Instant::now());
        assert!(n.compatible("x"));
        assert!(!n.compatible("y"));
        n.set_link(false);
        assert!(!n.compatible("x"));
    }
}
