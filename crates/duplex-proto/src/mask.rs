//! Payload masking (RFC 6455 §5.3).
//!
//! Masking XORs every payload byte with one of four key bytes, chosen by the
//! byte's position. It runs over every byte a client sends and a server
//! receives, so it is done a machine word at a time: the key is widened to a
//! `u64` (rotated for the offset into the key) and applied to 8-byte chunks,
//! a shape LLVM turns into SIMD loads and stores (two 16-byte SSE2 lanes per
//! iteration on the default x86-64 target) without any `unsafe`.
//!
//! Two details matter for speed (see `docs/benchmarks.md`):
//! - the key is rotated as a `u32` (one `ror`), not with `<[u8]>::rotate_left`,
//!   which compiles to `memcpy`/`memmove` calls and cost ~10 ns per call;
//! - a long buffer is first masked up to a 32-byte boundary, so the SIMD loop
//!   never splits a load or store across cache lines. A received payload
//!   starts wherever its 6-, 8- or 14-byte header ended, so it is rarely
//!   aligned; unaligned, a 64 KiB unmask ran at ~35 GB/s instead of ~50 GB/s
//!   (SSE2), and at ~56 instead of ~88 GB/s built for AVX2.

/// Buffers at least this long are masked up to an `ALIGN` boundary first
/// (the head costs a few nanoseconds, so short buffers skip it).
const ALIGN_MIN_LEN: usize = 256;

/// The boundary the SIMD loop starts at: the widest vector it is compiled
/// to (16-byte SSE2 by default, 32-byte AVX2 with `target-cpu` set), so no
/// vector straddles a cache line.
const ALIGN: usize = 32;

/// XORs `buf` with the 4-byte masking `key`, as if `buf` began `offset` bytes
/// into the payload (so a payload can be unmasked in pieces).
///
/// Applying the same key and offset twice restores the original bytes.
///
/// ```
/// use duplex_proto::apply_mask;
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut data = *b"Hello";
/// apply_mask(&mut data, key, 0);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]); // RFC 6455 §5.7
/// apply_mask(&mut data, key, 0);
/// assert_eq!(&data, b"Hello");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let mut key = rotate_key(key, offset);
    let mut buf = buf;
    if buf.len() >= ALIGN_MIN_LEN {
        // `align_offset` may in principle return usize::MAX ("cannot
        // align"); `min` then makes the head the whole buffer, which is
        // still correct, only slower.
        let head_len = buf.as_ptr().align_offset(ALIGN).min(buf.len());
        let (head, body) = buf.split_at_mut(head_len);
        mask_words(head, key);
        key = rotate_key(key, head_len);
        buf = body;
    }
    mask_words(buf, key);
}

/// The key as seen from `offset` bytes into the payload: `key` rotated left
/// by `offset % 4` bytes.
#[inline]
fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    // Little-endian: byte i is bits 8i..8i+8, so rotating the bytes left by
    // n is rotating the integer right by 8n bits (on any host).
    u32::from_le_bytes(key)
        .rotate_right(8 * (offset % 4) as u32)
        .to_le_bytes()
}

/// Masks `buf`, which starts at key phase 0 of `key`: 8-byte words (which
/// LLVM vectorizes), then at most one 4-byte word and three bytes.
#[inline]
fn mask_words(buf: &mut [u8], key: [u8; 4]) {
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    // Every chunk was a multiple of 4 bytes long, so the key phase is unchanged.
    let mut rest = chunks.into_remainder();
    if rest.len() >= 4 {
        let (half, tail) = rest.split_at_mut(4);
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(half);
        half.copy_from_slice(&(u32::from_ne_bytes(bytes) ^ u32::from_ne_bytes(key)).to_ne_bytes());
        rest = tail;
    }
    for (byte, k) in rest.iter_mut().zip(key) {
        *byte ^= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_bytewise_reference(data in proptest::collection::vec(any::<u8>(), 0..300),
                                      key in any::<[u8; 4]>(), offset in 0usize..8) {
            let mut fast = data.clone();
            apply_mask(&mut fast, key, offset);
            let expected: Vec<u8> = data.iter().enumerate()
                .map(|(i, b)| b ^ key[(i + offset) % 4]).collect();
            prop_assert_eq!(fast, expected);
        }

        #[test]
        fn long_and_misaligned_match_reference(len in 0usize..1200, start in 0usize..64,
                                               key in any::<[u8; 4]>(), offset in 0usize..8) {
            let data: Vec<u8> = (0..start + len).map(|i| (i * 31 + 7) as u8).collect();
            let mut fast = data.clone();
            apply_mask(&mut fast[start..], key, offset);
            let expected: Vec<u8> = data.iter().enumerate()
                .map(|(i, &b)| if i < start { b } else { b ^ key[(i - start + offset) % 4] })
                .collect();
            prop_assert_eq!(fast, expected);
        }

        #[test]
        fn split_anywhere_equals_whole(data in proptest::collection::vec(any::<u8>(), 0..200),
                                       key in any::<[u8; 4]>(), split in 0usize..200) {
            let split = split.min(data.len());
            let mut whole = data.clone();
            apply_mask(&mut whole, key, 0);
            let mut parts = data.clone();
            let (a, b) = parts.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, key, split);
            prop_assert_eq!(whole, parts);
        }
    }
}
