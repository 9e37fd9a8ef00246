//! Compressed client traffic for a server-side `Connection` with
//! permessage-deflate. The first byte picks the negotiated parameters
//! (window bits 8/9/12/15, no-context-takeover, message limit; see
//! `duplex_fuzz::deflate_choice`), the rest is laid out as for `frame_server`.
#![no_main]

use duplex_proto::Role;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let (params, config, max_message) = duplex_fuzz::deflate_choice(selector);
    duplex_fuzz::run_connection(Role::Server, Some((params, config)), max_message, rest);
});
