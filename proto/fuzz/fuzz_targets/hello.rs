//! Fuzz target: any bytes as a hello (parse -> emit -> parse); the same
//! bytes also build a hello for emit -> parse.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    itc_proto_fuzz::check_hello(data);
    itc_proto_fuzz::emit_hello(data);
});
