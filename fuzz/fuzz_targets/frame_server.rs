//! Bytes from a client, fed in pieces to a server-side `Connection` (no
//! compression); see `duplex_fuzz::run_connection` for the input layout and
//! the invariants checked.
#![no_main]

use duplex_proto::Role;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    duplex_fuzz::run_connection(Role::Server, None, 64 << 10, data);
});
