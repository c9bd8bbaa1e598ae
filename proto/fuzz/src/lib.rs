//! Checks shared by the fuzz targets in `fuzz_targets/`, one module per
//! message format of `itc-proto`, and for the file service (`itc-files`)
//! one for its messages and one for its signed records.
//!
//! Each `check_*` function parses one input as the daemon would and, when
//! it parses, emits the value again and asserts that the result parses back
//! to the same value and spells the same bytes (less what the format
//! normalises: reserved bits, flags it ignores, trailing bytes). Each
//! `emit_*` function builds a value from the fuzzer's bytes, including
//! values that must be refused, and asserts that whatever `emit` accepts
//! parses back to the same value; a code `Unknown(b)` whose `b` has a named
//! variant counts as that variant, as the crate documents. Every broken
//! promise is a panic, which libFuzzer reports as a crash; no check ever
//! panics on an input that the crate handles as documented.

mod batch;
mod bounce;
mod capture;
mod echo;
mod files_records;
mod files_wire;
mod header;
mod hello;
mod link_status;
mod pru;
mod pru_batch;
mod tep;
mod user_write;

pub use batch::check_batch;
pub use bounce::{check_bounce, emit_bounce};
pub use capture::{check_capture, emit_capture};
pub use echo::{check_echo, emit_echo};
pub use files_records::{build_manifest, check_manifest, check_tombstone, make_tombstone};
pub use files_wire::{check_files_message, emit_files_message};
pub use header::{check_header, emit_header};
pub use hello::{check_hello, emit_hello};
pub use link_status::{check_link_status, emit_link_status};
pub use pru::check_pru_message;
pub use pru_batch::{check_pru_batch, emit_pru_batch};
pub use tep::{check_tep, emit_tep};
pub use user_write::check_user_writes;

use arbitrary::Unstructured;
use itc_proto::{Dir, Error};

/// One of the six directions, picked by the fuzzer.
fn any_dir(u: &mut Unstructured<'_>) -> arbitrary::Result<Dir> {
    u.choose(&Dir::ALL).copied()
}

/// A code byte, as either the named variant or `Unknown`: `from_byte(b)`
/// or `unknown(b)`, the fuzzer picks which.
fn any_code<C>(
    u: &mut Unstructured<'_>,
    from_byte: fn(u8) -> C,
    unknown: fn(u8) -> C,
) -> arbitrary::Result<C> {
    let b = u.arbitrary::<u8>()?;
    Ok(if u.arbitrary::<bool>()? {
        unknown(b)
    } else {
        from_byte(b)
    })
}

/// An output buffer of 0..=`max` bytes, all `0xa5`, so that a byte that
/// emit forgets to write shows.
fn any_buffer(u: &mut Unstructured<'_>, max: usize) -> arbitrary::Result<Vec<u8>> {
    Ok(vec![0xa5; u.int_in_range(0..=max)?])
}

/// Asserts that an emit error for a buffer of `len` bytes is justified:
/// either the buffer is smaller than `need`, or `rejected` says why the
/// value itself is refused.
fn assert_refusal(err: Error, len: usize, need: usize, rejected: impl FnOnce(Error) -> bool) {
    match err {
        Error::BufferTooSmall { len: l, need: n } => {
            assert_eq!((l, n), (len, need), "BufferTooSmall carries wrong sizes");
            assert!(len < need, "BufferTooSmall for a buffer that fits");
        }
        other => assert!(rejected(other), "emit refused a valid value: {other}"),
    }
}
