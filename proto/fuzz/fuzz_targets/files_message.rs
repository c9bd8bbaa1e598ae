//! Fuzz target: any bytes as a file service message (parse -> emit ->
//! parse, and as a whole packet); the same bytes also build a message for
//! emit -> parse.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    itc_proto_fuzz::check_files_message(data);
    itc_proto_fuzz::emit_files_message(data);
});
