//! A batched message from a PRU or from the host (`itc_proto::pru_batch`):
//! refused whole or taken apart into items that rebuild the same bytes,
//! each item then taken apart as one PRU message; and a writer fed the
//! fuzzer's items builds messages that parse back to those items.

use itc_proto::pru_batch::{
    lone_bytes, BatchItems, BatchWriter, BATCH_LONE, MAX_BATCH_ITEM, MAX_RPMSG_MSG,
};

use crate::check_pru_message;

/// Parses `msg` as the host would (lone form allowed) and as the firmware
/// would (not): whatever is accepted rebuilds to the same bytes.
pub fn check_pru_batch(msg: &[u8]) {
    for lone_allowed in [true, false] {
        let Ok(items) = BatchItems::parse(msg, lone_allowed) else {
            continue;
        };
        assert!(!msg.is_empty() && msg.len() <= MAX_RPMSG_MSG);
        let items: Vec<&[u8]> = items.collect();
        assert!(!items.is_empty(), "a valid batch has an item");
        if lone_allowed && msg[0] == BATCH_LONE {
            assert_eq!(items.len(), 1);
            assert_eq!(lone_bytes(items[0]).as_deref(), Some(msg), "lone form");
        } else {
            let mut w = BatchWriter::new();
            for item in &items {
                assert!((1..=MAX_BATCH_ITEM).contains(&item.len()));
                assert!(w.push(item), "an item of a valid batch fits again");
            }
            assert_eq!(w.as_bytes(), msg, "items rebuild the message");
        }
        for item in items {
            check_pru_message(item);
        }
    }
}

/// Cuts `data` into items (each first byte gives the next item's length)
/// and feeds them to a writer, flushing when one does not fit: every
/// message parses back to exactly the items pushed into it.
pub fn emit_pru_batch(data: &[u8]) {
    let mut w = BatchWriter::new();
    let mut pushed: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let item = &tail[..usize::from(len).min(tail.len())];
        rest = &tail[item.len()..];
        if item.is_empty() {
            assert!(!w.push(item), "an empty item is refused");
            continue;
        }
        if !w.push(item) {
            check_written(&w, &pushed);
            w.clear();
            pushed.clear();
            assert!(w.push(item), "an item fits an empty message");
        }
        pushed.push(item);
    }
    check_written(&w, &pushed);
}

fn check_written(w: &BatchWriter, pushed: &[&[u8]]) {
    if pushed.is_empty() {
        assert!(w.is_empty());
        return;
    }
    assert_eq!(w.items(), pushed.len());
    let got: Vec<&[u8]> = BatchItems::parse(w.as_bytes(), false)
        .expect("what the writer builds parses")
        .collect();
    assert_eq!(got, pushed);
}
