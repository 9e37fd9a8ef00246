//! Payload masking (RFC 6455 §5.3).
//!
//! Masking XORs every payload byte with one of four key bytes, chosen by the
//! byte's position. It runs over every byte a client sends and a server
//! receives, so it is done a machine word at a time: the key is widened to a
//! `u64` (rotated for the offset into the key) and applied to 8-byte chunks,
//! a shape LLVM turns into SIMD loads and stores without any `unsafe`.

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
    let mut key = key;
    key.rotate_left(offset % 4);
    if buf.len() < 16 {
        apply_mask_bytewise(buf, key);
        return;
    }
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
    apply_mask_bytewise(chunks.into_remainder(), key);
}

#[inline]
fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4]) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[i & 3];
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
