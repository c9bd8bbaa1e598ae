//! Tests of version precedence, including the convergence property test.

use super::*;
use proptest::prelude::*;

fn name(n: u8) -> Name {
    Name::new(&format!("f{n}")).unwrap()
}

fn stamp(version: u64, content: u8) -> Stamp {
    Stamp::new(version, RecordId::of(&[content, version as u8]))
}

#[test]
fn higher_version_wins_and_equal_versions_tie_break_by_id() {
    let n = name(0);
    let mut v = Versions::new();
    assert_eq!(v.publish(&n, stamp(2, 0)), Applied::Taken);
    assert_eq!(v.publish(&n, stamp(1, 0)), Applied::Ignored);
    assert_eq!(v.publish(&n, stamp(2, 0)), Applied::Ignored, "a duplicate");
    let (a, b) = (stamp(3, 1), stamp(3, 2));
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    assert_eq!(v.publish(&n, hi), Applied::Taken);
    assert_eq!(v.publish(&n, lo), Applied::Ignored);
    assert_eq!(v.state(&n), Some(State::Live(hi)));
}

#[test]
fn tombstone_deletes_up_to_its_version_and_a_higher_publish_revives() {
    let n = name(0);
    let mut v = Versions::new();
    v.publish(&n, stamp(5, 0));
    assert_eq!(v.tombstone(&n, stamp(4, 9)), Applied::Taken);
    assert_eq!(v.state(&n), Some(State::Live(stamp(5, 0))), "5 is above 4");
    assert_eq!(v.tombstone(&n, stamp(5, 9)), Applied::Taken);
    assert_eq!(v.state(&n), Some(State::Deleted(stamp(5, 9))));
    assert!(
        !v.wants_publish(&n, stamp(5, 1)),
        "equal version: tombstone wins"
    );
    assert_eq!(v.publish(&n, stamp(3, 0)), Applied::Ignored);
    assert_eq!(v.publish(&n, stamp(6, 0)), Applied::Taken);
    assert_eq!(v.state(&n), Some(State::Live(stamp(6, 0))));
    assert_eq!(v.entry(&n).tombstone_stamp(), Some(stamp(5, 9)));
}

#[test]
fn installing_is_tracked_apart_from_winning() {
    let n = name(1);
    let mut v = Versions::new();
    assert_eq!(v.action(&n), Action::None);
    v.publish(&n, stamp(1, 0));
    assert_eq!(v.action(&n), Action::Install(stamp(1, 0)));
    v.mark_installed(&n, stamp(1, 0));
    assert_eq!(v.action(&n), Action::None);
    // Hearing of the installed version again changes nothing.
    assert_eq!(v.publish(&n, stamp(1, 0)), Applied::Ignored);
    assert_eq!(v.action(&n), Action::None);
    v.tombstone(&n, stamp(1, 3));
    assert_eq!(v.action(&n), Action::Remove);
    v.mark_removed(&n);
    assert_eq!(v.action(&n), Action::None);
}

#[test]
fn next_version_beats_what_is_known() {
    assert_eq!(next_version(None, 100), 100);
    assert_eq!(next_version(Some(50), 100), 100);
    assert_eq!(next_version(Some(100), 100), 101);
    assert_eq!(next_version(Some(u64::MAX), 1), u64::MAX);
}

/// One record: a publish of some content, or a tombstone.
#[derive(Debug, Clone, Copy)]
enum Op {
    Publish { name: u8, version: u64, content: u8 },
    Delete { name: u8, version: u64, signer: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3u8, 0..8u64, 0..3u8).prop_map(|(name, version, content)| Op::Publish { name, version, content }),
        1 => (0..3u8, 0..8u64, 0..2u8).prop_map(|(name, version, signer)| Op::Delete { name, version, signer }),
    ]
}

fn apply(v: &mut Versions, op: Op) {
    match op {
        Op::Publish {
            name: n,
            version,
            content,
        } => {
            v.publish(&name(n), stamp(version, content));
        }
        Op::Delete {
            name: n,
            version,
            signer,
        } => {
            v.tombstone(&name(n), stamp(version, 100 + signer));
        }
    }
}

/// The state computed from the whole set of records at once.
fn oracle(ops: &[Op]) -> BTreeMap<Name, State> {
    let mut out = BTreeMap::new();
    for n in 0..3u8 {
        let tomb = ops
            .iter()
            .filter_map(|o| match *o {
                Op::Delete {
                    name,
                    version,
                    signer,
                } if name == n => Some(stamp(version, 100 + signer)),
                _ => None,
            })
            .max();
        let publish = ops
            .iter()
            .filter_map(|o| match *o {
                Op::Publish {
                    name,
                    version,
                    content,
                } if name == n => Some(stamp(version, content)),
                _ => None,
            })
            .filter(|p| tomb.is_none_or(|t| p.version > t.version))
            .max();
        if let Some(p) = publish {
            out.insert(name(n), State::Live(p));
        } else if let Some(t) = tomb {
            out.insert(name(n), State::Deleted(t));
        }
    }
    out
}

proptest! {
    #[test]
    fn replicas_converge_whatever_the_order(
        ops in prop::collection::vec(op(), 0..40),
        orders in prop::collection::vec(any::<prop::sample::Index>(), 4),
        repeats in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        shuffles in prop::collection::vec(
            prop::collection::vec(any::<prop::sample::Index>(), 40), 4),
    ) {
        let want = oracle(&ops);
        for (r, seed) in orders.iter().enumerate() {
            // Each replica sees every record, some twice, in its own order.
            let mut seen: Vec<Op> = ops.clone();
            if !ops.is_empty() {
                seen.extend(repeats.iter().map(|i| ops[i.index(ops.len())]));
            }
            let n = seen.len();
            for (k, idx) in shuffles[r].iter().enumerate().take(n) {
                let j = idx.index(n);
                seen.swap(k % n, j);
            }
            if n > 0 {
                seen.rotate_left(seed.index(n));
            }
            let mut v = Versions::new();
            for o in seen {
                apply(&mut v, o);
            }
            prop_assert_eq!(v.states(), want.clone(), "replica {}", r);
        }
    }
}
