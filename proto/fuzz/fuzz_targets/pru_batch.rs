//! Fuzz target: any bytes as a batched PRU message (parse -> rebuild, each
//! item as a PRU message); the same bytes cut into items for the writer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    itc_proto_fuzz::check_pru_batch(data);
    itc_proto_fuzz::emit_pru_batch(data);
});
