//! Fuzz target: any bytes as an echo packet (parse -> emit -> parse); the
//! same bytes also build an echo for emit -> parse.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    itc_proto_fuzz::check_echo(data);
    itc_proto_fuzz::emit_echo(data);
});
