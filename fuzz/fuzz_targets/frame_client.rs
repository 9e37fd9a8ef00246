//! Bytes from a server, fed in pieces to a client-side `Connection` (no
//! compression); see `duplex_fuzz::run_connection` for the input layout and
//! the invariants checked.
#![no_main]

use duplex_proto::Role;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    duplex_fuzz::run_connection(Role::Client, None, 64 << 10, data);
});
