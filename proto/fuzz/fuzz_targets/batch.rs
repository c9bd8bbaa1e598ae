//! Fuzz target: any bytes as a write to a batched packet file (items of a
//! length byte and that many bytes), split and framed again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    itc_proto_fuzz::check_batch(data);
});
