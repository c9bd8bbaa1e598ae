//! Fuzz target: any bytes as what a read of `itc/capture` returns
//! (records parsed one after another, each rebuilt and parsed back); the
//! same bytes also build records for build -> parse.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    itc_proto_fuzz::check_capture(data);
    itc_proto_fuzz::emit_capture(data);
});
