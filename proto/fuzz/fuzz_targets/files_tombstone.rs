//! Fuzz target: any bytes as a signed tombstone (parse, signature check);
//! the same bytes also make a tombstone that is signed, checked and
//! altered.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    itc_proto_fuzz::check_tombstone(data);
    itc_proto_fuzz::make_tombstone(data);
});
