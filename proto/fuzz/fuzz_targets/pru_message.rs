//! Fuzz target: any bytes as one message from a PRU (header, link status,
//! bounce and its wrapped packet, a received hello or echo); the same bytes
//! also build a link status and a bounce for emit -> parse.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    itc_proto_fuzz::check_pru_message(data);
    itc_proto_fuzz::emit_link_status(data);
    itc_proto_fuzz::emit_bounce(data);
});
