//! The framing of the batched packet files ([`itc_proto::batch`]): any
//! bytes split into items, and the items framed again.

use itc_proto::batch::{item_len, push_item, FrameError, Items};

/// Splits `data` into items as `itcd` splits a batched write. The items
/// lie end to end from the start; an error, if any, is the last thing
/// yielded and names the offset where the whole items end; framing the
/// items again with [`push_item`] spells exactly the bytes they came from.
pub fn check_batch(data: &[u8]) {
    let mut items = Items::new(data);
    let mut again = Vec::with_capacity(data.len());
    let mut error = None;
    for item in items.by_ref() {
        assert!(error.is_none(), "an item after an error");
        match item {
            Ok(packet) => {
                assert!(!packet.is_empty(), "an empty item");
                let before = again.len();
                assert!(push_item(&mut again, packet), "push_item refused an item");
                assert_eq!(again.len() - before, item_len(packet.len()));
            }
            Err(e) => error = Some(e),
        }
    }
    let whole = items.consumed();
    assert_eq!(whole, again.len(), "consumed and the items disagree");
    assert_eq!(&data[..whole], &again[..], "items framed again differ");
    match error {
        None => assert_eq!(whole, data.len(), "stopped early without an error"),
        Some(FrameError::ZeroLength { at }) => {
            assert_eq!(at, whole);
            assert_eq!(data[at], 0);
        }
        Some(FrameError::CutOff { at, len, have }) => {
            assert_eq!(at, whole);
            assert_eq!(len, usize::from(data[at]));
            assert_eq!(have, data.len() - at - 1);
            assert!(have < len, "an item that fits was called cut off");
        }
    }
    assert_eq!(items.next(), None, "items after the end");
}
