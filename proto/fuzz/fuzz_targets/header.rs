//! Fuzz target: any bytes as a packet header (getters, parse -> emit ->
//! parse) and as a user's write to every kind of packet file; the same
//! bytes also build a header value for emit -> parse.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    itc_proto_fuzz::check_header(data);
    itc_proto_fuzz::check_user_writes(data);
    itc_proto_fuzz::emit_header(data);
});
