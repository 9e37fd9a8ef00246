//! Frame headers (RFC 6455 §5.2): parsing and encoding.
//!
//! Payload lengths use the 7-bit, 16-bit or 64-bit form. We always *send* the
//! minimal form, as §5.2 requires. A non-minimal length received from a peer
//! (e.g. 5 encoded in the 16-bit form) is accepted: it is unambiguous, costs
//! nothing to decode, and the RFC names no error for it; the limits on frame
//! and message size apply to the decoded value either way. A 64-bit length
//! with its most significant bit set is a protocol error (§5.2).

use bytes::{BufMut, BytesMut};

use crate::error::ProtocolError;

/// A frame's opcode (RFC 6455 §5.2, §11.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: starts a text message.
    Text,
    /// 0x2: starts a binary message.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    /// Decodes the 4-bit opcode; reserved values are a protocol error.
    pub fn from_u8(bits: u8) -> Result<OpCode, ProtocolError> {
        Ok(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            other => return Err(ProtocolError::ReservedOpCode(other)),
        })
    }

    /// The 4-bit wire value.
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Whether this is a control opcode (close, ping, pong).
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// The largest control frame payload (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest possible frame header: 2 + 8 length bytes + 4 mask bytes.
pub const MAX_HEADER_LEN: usize = 14;

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Whether this is the final frame of a message.
    pub fin: bool,
    /// RSV1: "compressed" under permessage-deflate (RFC 7692).
    pub rsv1: bool,
    /// RSV2: no extension we support defines it.
    pub rsv2: bool,
    /// RSV3: no extension we support defines it.
    pub rsv3: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present exactly on frames a client sends.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Parses a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` does not yet hold the whole header, and
    /// otherwise the header and its length in bytes.
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        if buf.len() < 2 {
            return Ok(None);
        }
        let (b0, b1) = (buf[0], buf[1]);
        let opcode = OpCode::from_u8(b0 & 0x0F)?;
        let masked = b1 & 0x80 != 0;
        let (payload_len, mut len) = match b1 & 0x7F {
            126 => {
                let Some(bytes) = buf.get(2..4) else {
                    return Ok(None);
                };
                (u64::from(u16::from_be_bytes([bytes[0], bytes[1]])), 4)
            }
            127 => {
                let Some(bytes) = buf.get(2..10) else {
                    return Ok(None);
                };
                let mut be = [0u8; 8];
                be.copy_from_slice(bytes);
                let n = u64::from_be_bytes(be);
                if n >> 63 != 0 {
                    return Err(ProtocolError::InvalidLength);
                }
                (n, 10)
            }
            n => (u64::from(n), 2),
        };
        let mask = if masked {
            let Some(bytes) = buf.get(len..len + 4) else {
                return Ok(None);
            };
            len += 4;
            Some([bytes[0], bytes[1], bytes[2], bytes[3]])
        } else {
            None
        };
        let header = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, len)))
    }

    /// The encoded length of this header.
    pub fn len(&self) -> usize {
        let len_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Always false: a header is never empty (provided for API symmetry with `len`).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends the header, with the minimal length encoding, to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        let mut b0 = self.opcode.as_u8();
        if self.fin {
            b0 |= 0x80;
        }
        if self.rsv1 {
            b0 |= 0x40;
        }
        if self.rsv2 {
            b0 |= 0x20;
        }
        if self.rsv3 {
            b0 |= 0x10;
        }
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut header = [0u8; MAX_HEADER_LEN];
        header[0] = b0;
        let mut len = 2;
        match self.payload_len {
            n @ 0..=125 => header[1] = mask_bit | n as u8,
            n @ 126..=0xFFFF => {
                header[1] = mask_bit | 126;
                header[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                len = 4;
            }
            n => {
                header[1] = mask_bit | 127;
                header[2..10].copy_from_slice(&n.to_be_bytes());
                len = 10;
            }
        }
        if let Some(mask) = self.mask {
            header[len..len + 4].copy_from_slice(&mask);
            len += 4;
        }
        out.put_slice(&header[..len]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(buf: &[u8]) -> (FrameHeader, usize) {
        FrameHeader::parse(buf).unwrap().unwrap()
    }

    #[test]
    fn rfc_6455_5_7_examples() {
        // A single-frame unmasked text message "Hello".
        let (h, n) = parse_all(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert!(
            h.fin && h.opcode == OpCode::Text && h.mask.is_none() && h.payload_len == 5 && n == 2
        );
        // A single-frame masked text message "Hello".
        let (h, n) = parse_all(&[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ]);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(n, 6);
        // A fragmented unmasked text message: "Hel" then "lo".
        let (h, _) = parse_all(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
        assert!(!h.fin && h.opcode == OpCode::Text);
        let (h, _) = parse_all(&[0x80, 0x02, 0x6c, 0x6f]);
        assert!(h.fin && h.opcode == OpCode::Continuation);
        // Unmasked ping and masked pong with "Hello".
        let (h, _) = parse_all(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(h.opcode, OpCode::Ping);
        let (h, _) = parse_all(&[
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ]);
        assert_eq!(h.opcode, OpCode::Pong);
        // 256 bytes binary message in a single unmasked frame.
        let (h, n) = parse_all(&[0x82, 0x7E, 0x01, 0x00]);
        assert_eq!((h.payload_len, n), (256, 4));
        // 64 KiB binary message in a single unmasked frame.
        let (h, n) = parse_all(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
        assert_eq!((h.payload_len, n), (65536, 10));
    }

    #[test]
    fn incomplete_headers_need_more() {
        let full = [0x82, 0xFF, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 1, 2, 3, 4];
        for end in 0..full.len() {
            assert_eq!(FrameHeader::parse(&full[..end]).unwrap(), None, "{end}");
        }
        assert!(FrameHeader::parse(&full).unwrap().is_some());
    }

    #[test]
    fn top_bit_of_64_bit_length_is_an_error() {
        let buf = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(FrameHeader::parse(&buf), Err(ProtocolError::InvalidLength));
    }

    #[test]
    fn reserved_opcodes_are_errors() {
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(
                FrameHeader::parse(&[0x80 | op, 0]),
                Err(ProtocolError::ReservedOpCode(op))
            );
        }
    }

    #[test]
    fn non_minimal_length_is_accepted() {
        let (h, n) = parse_all(&[0x82, 0x7E, 0x00, 0x05]);
        assert_eq!((h.payload_len, n), (5, 4));
    }

    proptest! {
        #[test]
        fn encode_parse_round_trip(fin: bool, rsv1: bool, op in prop::sample::select(vec![0u8, 1, 2, 8, 9, 10]),
                                   mask: Option<[u8; 4]>, len in prop_oneof![0u64..200, 0u64..70000, 0u64..(1 << 63)]) {
            let header = FrameHeader { fin, rsv1, rsv2: false, rsv3: false,
                opcode: OpCode::from_u8(op).unwrap(), mask, payload_len: len };
            let mut out = BytesMut::new();
            header.encode(&mut out);
            prop_assert_eq!(out.len(), header.len());
            prop_assert_eq!(FrameHeader::parse(&out).unwrap(), Some((header, out.len())));
        }
    }
}
