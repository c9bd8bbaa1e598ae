//! Fuzz target: any bytes as a Tile Event Packet (parse -> emit -> parse);
//! the same bytes also build a TEP for emit -> parse.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    itc_proto_fuzz::check_tep(data);
    itc_proto_fuzz::emit_tep(data);
});
