//! The per-message compressor and decompressor (RFC 7692 §7.2).

use bytes::{BufMut, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::{DeflateConfig, DeflateError, DeflateParams, MAX_WINDOW_BITS, MIN_WINDOW_BITS};

/// The empty stored block that ends every sync-flushed message; removed by
/// the sender and appended back by the receiver (RFC 7692 §7.2.1, §7.2.2).
const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Output is produced in steps of at most this many bytes, so that a message
/// never grows `out` by more than one step past what it really needs.
const MAX_STEP: usize = 64 * 1024;

/// First inflate step; doubled (up to [`MAX_STEP`]) while output keeps
/// filling whole steps.
const MIN_INFLATE_STEP: usize = 4 * 1024;

/// Per-connection `permessage-deflate` state for one endpoint.
///
/// The compressor uses our side's parameters (`server_*` on a server,
/// `client_*` on a client), the decompressor the peer's. Each is created on
/// first use and, when its direction has no context takeover, dropped after
/// every message (see the module documentation for the memory trade-off).
/// After a [`DeflateError`] the affected state is discarded; the connection
/// must then be failed.
#[derive(Debug)]
pub struct PerMessageDeflate {
    params: DeflateParams,
    is_server: bool,
    level: Compression,
    min_compress_size: usize,
    /// zlib window bits for our compressor (9..=15).
    compress_bits: u8,
    /// Our side uses no context takeover.
    compress_reset: bool,
    compressor: Option<Compress>,
    /// zlib window bits for the peer's data (9..=15).
    decompress_bits: u8,
    /// The peer's side uses no context takeover.
    decompress_reset: bool,
    decompressor: Option<Decompress>,
    /// The current incoming message contained a final (BFINAL) block.
    stream_ended: bool,
}

impl PerMessageDeflate {
    /// Creates the state for a connection that negotiated `params`; takes the
    /// compression level and threshold from `config`. Allocates nothing yet.
    pub fn new(params: DeflateParams, is_server: bool, config: &DeflateConfig) -> Self {
        let (own_reset, own_bits, peer_reset, peer_bits) = if is_server {
            (
                params.server_no_context_takeover,
                params.server_max_window_bits,
                params.client_no_context_takeover,
                params.client_max_window_bits,
            )
        } else {
            (
                params.client_no_context_takeover,
                params.client_max_window_bits,
                params.server_no_context_takeover,
                params.server_max_window_bits,
            )
        };
        Self {
            params,
            is_server,
            level: Compression::new(config.compression_level.min(9)),
            min_compress_size: config.min_compress_size,
            // Window bits 8 is compressed with 9: zlib's matches then never
            // reach farther than 250 bytes (see the module documentation).
            compress_bits: own_bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS),
            compress_reset: own_reset,
            compressor: None,
            decompress_bits: peer_bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS),
            decompress_reset: peer_reset,
            decompressor: None,
            stream_ended: false,
        }
    }

    /// The negotiated parameters.
    pub fn params(&self) -> DeflateParams {
        self.params
    }

    /// Whether this state belongs to the server side of the connection.
    pub fn is_server(&self) -> bool {
        self.is_server
    }

    /// Whether an outgoing message of `len` bytes should be compressed:
    /// messages shorter than [`DeflateConfig::min_compress_size`] are sent
    /// uncompressed (RSV1 clear).
    pub fn should_compress(&self, len: usize) -> bool {
        len >= self.min_compress_size
    }

    /// Compresses one whole message payload and appends the result to `out`,
    /// ready to be sent with RSV1 set on the message's first frame.
    ///
    /// The output is sync-flushed with the trailing `00 00 ff ff` removed
    /// (RFC 7692 §7.2.1); an empty payload becomes the single byte `00`. When
    /// our side has no context takeover, the compressor is dropped afterwards.
    /// On error `out` is restored to its previous length.
    pub fn compress(&mut self, payload: &[u8], out: &mut BytesMut) -> Result<(), DeflateError> {
        if payload.is_empty() {
            // With the receiver's 00 00 ff ff this is an empty stored block;
            // it needs no compressor and leaves the LZ77 window unchanged.
            out.put_u8(0x00);
            return Ok(());
        }
        let start = out.len();
        let level = self.level;
        let bits = self.compress_bits;
        let compressor = self
            .compressor
            .get_or_insert_with(|| Compress::new_with_window_bits(level, false, bits));
        let result = deflate_sync(compressor, payload, out).and_then(|()| {
            if out.len() >= start + TRAILER.len() && out.ends_with(&TRAILER) {
                out.truncate(out.len() - TRAILER.len());
                Ok(())
            } else {
                Err(DeflateError::Internal(
                    "sync flush did not end with an empty stored block".into(),
                ))
            }
        });
        if result.is_err() {
            out.truncate(start);
            self.compressor = None;
        } else if self.compress_reset {
            self.compressor = None;
        }
        result
    }

    /// Decompresses one piece of a compressed message (call it once per frame
    /// payload, in order; pieces may be of any size, even empty) and appends
    /// the inflated bytes to `out`. Pass `is_last` with the message's final
    /// piece: the `00 00 ff ff` trailer is then appended internally and, when
    /// the peer has no context takeover, the decompressor is dropped.
    ///
    /// `max_output` bounds `out.len()` (pass the message size limit when `out`
    /// holds only this message): [`DeflateError::TooBig`] is returned as soon
    /// as it would be exceeded, and inflating proceeds in bounded steps, so
    /// `out` never holds more than `max_output + 1` bytes whatever the
    /// compression ratio (a decompression bomb costs at most the limit).
    /// Data after a final (BFINAL) block is ignored and the LZ77 window is
    /// started afresh for the next message. Invalid data gives
    /// [`DeflateError::Corrupt`].
    pub fn decompress(
        &mut self,
        input: &[u8],
        is_last: bool,
        out: &mut BytesMut,
        max_output: usize,
    ) -> Result<(), DeflateError> {
        let bits = self.decompress_bits;
        let decompressor = self
            .decompressor
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
        let mut result = Ok(());
        if !self.stream_ended {
            result = inflate(decompressor, input, out, max_output).and_then(|ended| {
                self.stream_ended =
                    ended || (is_last && inflate(decompressor, &TRAILER, out, max_output)?);
                Ok(())
            });
        }
        if result.is_err() || (is_last && (self.stream_ended || self.decompress_reset)) {
            self.decompressor = None;
        }
        if result.is_err() || is_last {
            self.stream_ended = false;
        }
        result
    }
}

/// Feeds all of `input` to `compressor` with a sync flush, appending the
/// output to `out`.
fn deflate_sync(
    compressor: &mut Compress,
    mut input: &[u8],
    out: &mut BytesMut,
) -> Result<(), DeflateError> {
    loop {
        let len = out.len();
        // Fill the spare capacity `out` already has (no reallocation), up to
        // what the rest of the input can need; with little spare room, grow
        // by half the remaining input (most messages compress at least 2:1).
        let spare = out.capacity() - len;
        let need = input.len().saturating_add(64).min(MAX_STEP);
        let step = if spare >= 64 {
            spare.min(need)
        } else {
            (input.len() / 2 + 64).min(MAX_STEP)
        };
        out.resize(len + step, 0);
        let (in_before, out_before) = (compressor.total_in(), compressor.total_out());
        let status = compressor.compress(input, &mut out[len..], FlushCompress::Sync);
        let consumed = (compressor.total_in() - in_before) as usize;
        let produced = (compressor.total_out() - out_before) as usize;
        out.truncate(len + produced);
        status.map_err(|e| DeflateError::Internal(e.to_string()))?;
        input = &input[consumed..];
        // zlib: the flush is complete once it returns with output room left.
        if produced < step && input.is_empty() {
            return Ok(());
        }
        if produced == 0 && consumed == 0 {
            return Err(DeflateError::Internal("deflate made no progress".into()));
        }
    }
}

/// Feeds all of `input` to `decompressor`, appending output to `out` while
/// keeping `out.len() <= max_output`. Returns whether the deflate stream
/// ended (a BFINAL block completed); remaining input is then ignored.
fn inflate(
    decompressor: &mut Decompress,
    mut input: &[u8],
    out: &mut BytesMut,
    max_output: usize,
) -> Result<bool, DeflateError> {
    let mut step = input
        .len()
        .saturating_mul(4)
        .clamp(MIN_INFLATE_STEP, MAX_STEP);
    loop {
        let len = out.len();
        if len > max_output {
            return Err(DeflateError::TooBig);
        }
        // One byte beyond the limit tells "exactly at the limit" from "more".
        let room = (max_output - len).saturating_add(1);
        let chunk = step.min(room);
        out.resize(len + chunk, 0);
        let (in_before, out_before) = (decompressor.total_in(), decompressor.total_out());
        let status = decompressor.decompress(input, &mut out[len..], FlushDecompress::None);
        let consumed = (decompressor.total_in() - in_before) as usize;
        let produced = (decompressor.total_out() - out_before) as usize;
        out.truncate(len + produced);
        let status = status.map_err(|e| DeflateError::Corrupt(e.to_string()))?;
        if out.len() > max_output {
            return Err(DeflateError::TooBig);
        }
        input = &input[consumed..];
        if status == Status::StreamEnd {
            return Ok(true);
        }
        if produced == chunk {
            // Output-bound: more may be pending even if input is consumed.
            step = (step * 2).min(MAX_STEP);
        } else if input.is_empty() {
            return Ok(false);
        } else if produced == 0 && consumed == 0 {
            return Err(DeflateError::Corrupt("inflate made no progress".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    const LIMIT: usize = usize::MAX;

    fn params(snct: bool, cnct: bool, sbits: u8, cbits: u8) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: snct,
            client_no_context_takeover: cnct,
            server_max_window_bits: sbits,
            client_max_window_bits: cbits,
        }
    }

    /// A (server, client) pair for `params` with the given level.
    fn pair(p: DeflateParams, level: u32) -> (PerMessageDeflate, PerMessageDeflate) {
        let config = DeflateConfig::default().with_compression_level(level);
        (
            PerMessageDeflate::new(p, true, &config),
            PerMessageDeflate::new(p, false, &config),
        )
    }

    fn receiver() -> PerMessageDeflate {
        PerMessageDeflate::new(DeflateParams::default(), false, &DeflateConfig::default())
    }

    fn inflate_all(rx: &mut PerMessageDeflate, pieces: &[&[u8]]) -> Result<Vec<u8>, DeflateError> {
        let mut out = BytesMut::new();
        for (i, piece) in pieces.iter().enumerate() {
            rx.decompress(piece, i + 1 == pieces.len(), &mut out, LIMIT)?;
        }
        Ok(out.to_vec())
    }

    /// Deterministic pseudo-random bytes (xorshift64*).
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    }

    fn sample_messages() -> Vec<Vec<u8>> {
        let text: Vec<u8> = (0..2000)
            .flat_map(|i| {
                format!("{{\"id\":{i},\"name\":\"item-{}\",\"ok\":true}}", i % 37).into_bytes()
            })
            .collect();
        let mut mixed = noise(3000, 7);
        mixed.extend_from_slice(&text[..5000]);
        mixed.extend_from_slice(&noise(3000, 7));
        vec![
            b"Hello".to_vec(),
            b"Hello".to_vec(),
            Vec::new(),
            b"x".to_vec(),
            text.clone(),
            noise(40_000, 3),
            mixed,
            text,
            vec![0u8; 100_000],
            b"Hello".to_vec(),
        ]
    }

    #[test]
    fn rfc7692_examples() {
        // §7.2.3.1: one message, unfragmented and fragmented.
        assert_eq!(inflate_all(&mut receiver(), &[&HELLO]).unwrap(), b"Hello");
        assert_eq!(
            inflate_all(&mut receiver(), &[&HELLO[..3], &HELLO[3..]]).unwrap(),
            b"Hello"
        );
        // §7.2.3.2: the second message refers to the first one's window.
        let mut rx = receiver();
        assert_eq!(inflate_all(&mut rx, &[&HELLO]).unwrap(), b"Hello");
        assert_eq!(
            inflate_all(&mut rx, &[&[0xf2, 0x00, 0x11, 0x00, 0x00]]).unwrap(),
            b"Hello"
        );
        // §7.2.3.3: a stored (uncompressed) block.
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(inflate_all(&mut receiver(), &[&stored]).unwrap(), b"Hello");
        // §7.2.3.4: a final block; the next message starts a new stream.
        let mut rx = receiver();
        let bfinal = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        assert_eq!(inflate_all(&mut rx, &[&bfinal]).unwrap(), b"Hello");
        assert_eq!(
            inflate_all(&mut rx, &[&bfinal[..4], &bfinal[4..]]).unwrap(),
            b"Hello"
        );
        assert_eq!(inflate_all(&mut rx, &[&HELLO]).unwrap(), b"Hello");
        // §7.2.3.5: two deflate blocks in one message.
        let two = [
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
        ];
        assert_eq!(inflate_all(&mut receiver(), &[&two]).unwrap(), b"Hello");
        // §7.2.3.6 style: a sync-flushed first fragment (trailer kept) and
        // a last fragment holding only 0x00; empty frames in between.
        let mut first = HELLO.to_vec();
        first.extend_from_slice(&TRAILER);
        let mut rx = receiver();
        assert_eq!(
            inflate_all(&mut rx, &[&first[..3], &[], &first[3..], &[], &[0x00]]).unwrap(),
            b"Hello"
        );
    }

    #[test]
    fn compresses_hello_like_the_rfc() {
        let (mut server, _) = pair(DeflateParams::default(), 1);
        let mut out = BytesMut::new();
        server.compress(b"Hello", &mut out).unwrap();
        assert_eq!(&out[..], &HELLO);
        // Context takeover: the second "Hello" is a back-reference.
        let mut second = BytesMut::new();
        server.compress(b"Hello", &mut second).unwrap();
        assert!(second.len() < HELLO.len(), "{second:x?}");
        let mut rx = receiver();
        assert_eq!(inflate_all(&mut rx, &[&out]).unwrap(), b"Hello");
        assert_eq!(inflate_all(&mut rx, &[&second]).unwrap(), b"Hello");
    }

    #[test]
    fn empty_message() {
        let (mut server, mut client) = pair(DeflateParams::default(), 1);
        let mut wire = BytesMut::new();
        server.compress(b"", &mut wire).unwrap();
        assert_eq!(&wire[..], &[0x00]);
        assert!(server.compressor.is_none(), "no state for an empty message");
        assert_eq!(inflate_all(&mut client, &[&wire]).unwrap(), b"");
        // Between context-takeover messages too.
        for msg in [&b"Hello, hello"[..], b"", b"Hello, hello", b""] {
            let mut wire = BytesMut::new();
            server.compress(msg, &mut wire).unwrap();
            assert_eq!(inflate_all(&mut client, &[&wire]).unwrap(), msg);
        }
    }

    #[test]
    fn appends_to_existing_output() {
        let (mut server, mut client) = pair(DeflateParams::default(), 1);
        let mut wire = BytesMut::from(&b"head"[..]);
        server.compress(b"Hello", &mut wire).unwrap();
        assert_eq!(&wire[..4], b"head");
        let mut out = BytesMut::from(&b"prefix:"[..]);
        client.decompress(&wire[4..], true, &mut out, 100).unwrap();
        assert_eq!(&out[..], b"prefix:Hello");
    }

    #[test]
    fn round_trips_every_window_and_takeover_setting() {
        let messages = sample_messages();
        for bits in 8..=15u8 {
            for no_takeover in [false, true] {
                let p = params(no_takeover, !no_takeover, bits, 23 - bits);
                let (mut server, mut client) = pair(p, 1);
                for (i, msg) in messages.iter().enumerate() {
                    // Server to client, decompressed in one piece.
                    let mut wire = BytesMut::new();
                    server.compress(msg, &mut wire).unwrap();
                    assert_eq!(server.compressor.is_none(), no_takeover);
                    let mut out = BytesMut::new();
                    client.decompress(&wire, true, &mut out, msg.len()).unwrap();
                    assert_eq!(&out[..], &msg[..], "bits {bits} s->c message {i}");
                    // Client to server, in frames of varying size.
                    let mut wire = BytesMut::new();
                    client.compress(msg, &mut wire).unwrap();
                    let mut out = BytesMut::new();
                    let mut pieces = wire.chunks(1 + i * 977).peekable();
                    while let Some(piece) = pieces.next() {
                        let last = pieces.peek().is_none();
                        server.decompress(piece, last, &mut out, LIMIT).unwrap();
                    }
                    assert_eq!(&out[..], &msg[..], "bits {bits} c->s message {i}");
                    // The direction without context takeover keeps no state.
                    assert_eq!(server.compressor.is_none(), no_takeover);
                    assert_eq!(server.decompressor.is_none(), !no_takeover);
                    assert_eq!(client.compressor.is_none(), !no_takeover);
                    assert_eq!(client.decompressor.is_none(), no_takeover);
                }
            }
        }
    }

    #[test]
    fn one_byte_pieces() {
        for level in [1, 6, 9] {
            let (mut server, mut client) = pair(DeflateParams::default(), level);
            for msg in sample_messages().iter().take(5) {
                let mut wire = BytesMut::new();
                server.compress(msg, &mut wire).unwrap();
                let mut out = BytesMut::new();
                for (i, byte) in wire.iter().enumerate() {
                    let last = i + 1 == wire.len();
                    client
                        .decompress(std::slice::from_ref(byte), last, &mut out, msg.len())
                        .unwrap();
                }
                assert_eq!(&out[..], &msg[..]);
            }
        }
    }

    #[test]
    fn context_takeover_shrinks_repeats() {
        let msg = sample_messages().swap_remove(4);
        let size = |no_takeover: bool| {
            let (mut server, _) = pair(params(no_takeover, false, 15, 15), 1);
            let mut first = BytesMut::new();
            server.compress(&msg[..1000], &mut first).unwrap();
            let mut second = BytesMut::new();
            server.compress(&msg[..1000], &mut second).unwrap();
            (first.len(), second.len())
        };
        let (first, second) = size(false);
        assert!(second * 3 < first, "{first} {second}");
        let (first, second) = size(true);
        assert_eq!(first, second);
    }

    #[test]
    fn threshold() {
        let config = DeflateConfig::default().with_min_compress_size(100);
        let pmd = PerMessageDeflate::new(DeflateParams::default(), true, &config);
        assert!(!pmd.should_compress(0));
        assert!(!pmd.should_compress(99));
        assert!(pmd.should_compress(100));
        let config = DeflateConfig::default().with_min_compress_size(0);
        let pmd = PerMessageDeflate::new(DeflateParams::default(), false, &config);
        assert!(pmd.should_compress(0));
        assert!(!pmd.is_server());
        assert_eq!(pmd.params(), DeflateParams::default());
    }

    #[test]
    fn roles_pick_their_own_parameters() {
        let p = params(true, false, 9, 12);
        let (server, client) = pair(p, 1);
        assert_eq!((server.compress_bits, server.compress_reset), (9, true));
        assert_eq!(
            (server.decompress_bits, server.decompress_reset),
            (12, false)
        );
        assert_eq!((client.compress_bits, client.compress_reset), (12, false));
        assert_eq!((client.decompress_bits, client.decompress_reset), (9, true));
        // Window bits 8 run zlib at 9; nothing is allocated up front.
        let (server, client) = pair(params(false, false, 8, 8), 1);
        assert_eq!((server.compress_bits, server.decompress_bits), (9, 9));
        assert_eq!((client.compress_bits, client.decompress_bits), (9, 9));
        assert!(server.compressor.is_none() && server.decompressor.is_none());
    }

    #[test]
    fn bomb_stops_at_the_limit() {
        // 1 MiB of zeros deflates to ~1 KiB (DEFLATE tops out near 1032:1).
        // Segments from a compressor without context takeover are
        // self-contained, so 16 of them (each with its 00 00 ff ff) form one
        // valid ~16 KiB message that inflates to 16 MiB.
        let config = DeflateConfig::default().with_compression_level(9);
        let mut server = PerMessageDeflate::new(params(true, false, 15, 15), true, &config);
        let mut segment = BytesMut::new();
        server.compress(&vec![0u8; 1 << 20], &mut segment).unwrap();
        assert!(segment.len() < 1100, "{}", segment.len());
        segment.extend_from_slice(&TRAILER);
        let mut wire = segment.repeat(16);
        wire.truncate(wire.len() - TRAILER.len());
        let mut check = BytesMut::new();
        receiver()
            .decompress(&wire, true, &mut check, 16 << 20)
            .unwrap();
        assert_eq!(check.len(), 16 << 20);
        assert!(check.iter().all(|&b| b == 0));
        drop(check);
        let limit = 1 << 20;
        for piece in [wire.len(), 1024] {
            let mut rx = receiver();
            let mut out = BytesMut::new();
            let mut result = Ok(());
            for (i, chunk) in wire.chunks(piece).enumerate() {
                let last = (i + 1) * piece >= wire.len();
                result = rx.decompress(chunk, last, &mut out, limit);
                if result.is_err() {
                    break;
                }
            }
            assert_eq!(result, Err(DeflateError::TooBig));
            assert!(out.len() <= limit + 1, "{}", out.len());
            assert!(
                out.capacity() <= 2 * (limit + MAX_STEP),
                "{}",
                out.capacity()
            );
            assert!(rx.decompressor.is_none(), "state dropped after an error");
        }
        // A message exactly at the limit passes, one byte less fails.
        let (mut server, _) = pair(DeflateParams::default(), 1);
        let msg = vec![7u8; 5000];
        let mut wire = BytesMut::new();
        server.compress(&msg, &mut wire).unwrap();
        let mut rx = receiver();
        let mut out = BytesMut::new();
        rx.decompress(&wire, true, &mut out, 5000).unwrap();
        assert_eq!(out.len(), 5000);
        let mut rx = receiver();
        let mut out = BytesMut::new();
        assert_eq!(
            rx.decompress(&wire, true, &mut out, 4999),
            Err(DeflateError::TooBig)
        );
        // The limit counts what `out` already held.
        let mut rx = receiver();
        let mut out = BytesMut::from(&[1u8; 10][..]);
        assert_eq!(
            rx.decompress(&wire, true, &mut out, 5009),
            Err(DeflateError::TooBig)
        );
    }

    #[test]
    fn corrupt_input() {
        let cases: [&[u8]; 4] = [
            // BFINAL with the reserved block type 11.
            &[0x07],
            // Dynamic block header with 32 distance codes (at most 30).
            &[0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            // Stored block whose NLEN is not the complement of LEN.
            &[0x00, 0x05, 0x00, 0x00, 0x00],
            // RFC 7692 §7.2.3.2's second message without the first one:
            // its back-reference points before the start of the stream.
            &[0xf2, 0x00, 0x11, 0x00, 0x00],
        ];
        for input in cases {
            let mut rx = receiver();
            let mut out = BytesMut::new();
            let err = rx.decompress(input, true, &mut out, LIMIT).unwrap_err();
            assert!(matches!(err, DeflateError::Corrupt(_)), "{input:x?}: {err}");
            assert_eq!(err.close_code(), 1007);
            assert!(rx.decompressor.is_none());
            // The state was discarded; a fresh message decodes again.
            assert_eq!(inflate_all(&mut rx, &[&HELLO]).unwrap(), b"Hello");
        }
    }

    #[test]
    fn window_bits_bound_match_distances() {
        // Repeats at distances 200, 300, 600 and 40000: a compressor limited
        // to 2^bits must not use the ones beyond its window.
        let mut data = Vec::new();
        for (len, seed) in [(200, 1), (300, 2), (600, 3), (40_000, 4)] {
            let chunk = noise(len, seed);
            data.extend_from_slice(&chunk);
            data.extend_from_slice(&chunk);
        }
        for bits in 8..=15u8 {
            for level in [1, 3, 6, 9] {
                let (mut server, mut client) = pair(params(false, false, bits, 15), level);
                let mut wire = BytesMut::new();
                server.compress(&data, &mut wire).unwrap();
                assert_eq!(inflate_all(&mut client, &[&wire]).unwrap(), data);
                let mut stream = wire.to_vec();
                stream.extend_from_slice(&TRAILER);
                let max = max_distance(&stream);
                assert!(
                    max <= 1 << bits,
                    "bits {bits} level {level}: distance {max}"
                );
                assert!(max >= 200, "bits {bits} level {level}: no matches? {max}");
            }
        }
    }

    /// Largest LZ77 distance in a raw deflate stream made of complete blocks
    /// (an independent RFC 1951 parser, so the window-8 claim is checked
    /// without trusting zlib). Panics on invalid data.
    fn max_distance(stream: &[u8]) -> usize {
        struct Bits<'a> {
            data: &'a [u8],
            pos: usize,
        }
        impl Bits<'_> {
            fn bit(&mut self) -> u32 {
                let b = (self.data[self.pos / 8] >> (self.pos % 8)) & 1;
                self.pos += 1;
                u32::from(b)
            }
            fn bits(&mut self, n: u32) -> u32 {
                (0..n).fold(0, |acc, i| acc | (self.bit() << i))
            }
            fn decode(&mut self, (counts, symbols): &(Vec<u32>, Vec<u16>)) -> u16 {
                let (mut code, mut first, mut index) = (0u32, 0u32, 0u32);
                for &count in &counts[1..] {
                    code |= self.bit();
                    if code < first + count {
                        return symbols[(index + code - first) as usize];
                    }
                    index += count;
                    first = (first + count) << 1;
                    code <<= 1;
                }
                panic!("invalid Huffman code");
            }
        }
        fn table(lengths: &[u8]) -> (Vec<u32>, Vec<u16>) {
            let mut counts = vec![0u32; 16];
            for &l in lengths {
                counts[usize::from(l)] += 1;
            }
            counts[0] = 0;
            let mut symbols = Vec::new();
            for len in 1..16u8 {
                for (sym, &l) in lengths.iter().enumerate() {
                    if l == len {
                        symbols.push(sym as u16);
                    }
                }
            }
            (counts, symbols)
        }
        const LEN_BASE: [u32; 29] = [
            3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99,
            115, 131, 163, 195, 227, 258,
        ];
        const LEN_EXTRA: [u32; 29] = [
            0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
        ];
        const DIST_BASE: [u32; 30] = [
            1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025,
            1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
        ];
        const DIST_EXTRA: [u32; 30] = [
            0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12,
            12, 13, 13,
        ];
        const ORDER: [usize; 19] = [
            16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
        ];
        let mut r = Bits {
            data: stream,
            pos: 0,
        };
        let mut max = 0;
        while r.pos + 3 <= stream.len() * 8 {
            let last = r.bit();
            let kind = r.bits(2);
            let (lit, dist) = match kind {
                0 => {
                    r.pos = r.pos.div_ceil(8) * 8;
                    let len = r.bits(16);
                    assert_eq!(len ^ 0xffff, r.bits(16), "stored LEN/NLEN");
                    r.pos += len as usize * 8;
                    if last == 1 {
                        break;
                    }
                    continue;
                }
                1 => {
                    let mut l = [8u8; 288];
                    l[144..256].fill(9);
                    l[256..280].fill(7);
                    (table(&l), table(&[5; 30]))
                }
                2 => {
                    let nlen = r.bits(5) as usize + 257;
                    let ndist = r.bits(5) as usize + 1;
                    let ncode = r.bits(4) as usize + 4;
                    let mut cl = [0u8; 19];
                    for &i in &ORDER[..ncode] {
                        cl[i] = r.bits(3) as u8;
                    }
                    let cl = table(&cl);
                    let mut lengths = Vec::new();
                    while lengths.len() < nlen + ndist {
                        match r.decode(&cl) {
                            s @ 0..=15 => lengths.push(s as u8),
                            16 => {
                                let prev = *lengths.last().unwrap();
                                let n = 3 + r.bits(2) as usize;
                                lengths.resize(lengths.len() + n, prev);
                            }
                            17 => {
                                let n = 3 + r.bits(3) as usize;
                                lengths.resize(lengths.len() + n, 0);
                            }
                            _ => {
                                let n = 11 + r.bits(7) as usize;
                                lengths.resize(lengths.len() + n, 0);
                            }
                        }
                    }
                    (table(&lengths[..nlen]), table(&lengths[nlen..]))
                }
                _ => panic!("reserved block type"),
            };
            loop {
                let sym = r.decode(&lit);
                if sym < 256 {
                    continue;
                }
                if sym == 256 {
                    break;
                }
                let i = usize::from(sym - 257);
                let _len = LEN_BASE[i] + r.bits(LEN_EXTRA[i]);
                let d = usize::from(r.decode(&dist));
                let distance = (DIST_BASE[d] + r.bits(DIST_EXTRA[d])) as usize;
                max = max.max(distance);
            }
            if last == 1 {
                break;
            }
        }
        max
    }
}
