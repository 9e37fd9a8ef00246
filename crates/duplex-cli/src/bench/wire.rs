//! The client's side of the wire for the echo and idle modes, by hand.
//!
//! The load generator shares one core with nothing but itself, and every
//! cycle it spends is a cycle the server is not measured on. So it does not
//! run a full WebSocket client: it sends pre-masked frames (only the 8-byte
//! sequence number is masked per message) and parses the server's unmasked
//! frames in place, checking every field the echo must preserve.

use std::io;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The `Sec-WebSocket-Key` of every request (RFC 6455 §1.3's example).
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The `Sec-WebSocket-Accept` that `KEY` calls for.
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// The largest response head accepted.
const MAX_HEAD: usize = 8 * 1024;
/// Bytes of the sequence number at the start of every payload.
pub const SEQ_LEN: usize = 8;

/// Connects and performs the opening handshake; returns the stream and any
/// bytes the server sent after its response head.
pub async fn open(
    host: &str,
    port: u16,
    host_header: &str,
    resource: &str,
) -> io::Result<(TcpStream, BytesMut)> {
    let mut tcp = TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    let request = format!(
        "GET {resource} HTTP/1.1\r\nHost: {host_header}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await?;
    let mut buf = BytesMut::with_capacity(1024);
    let head_len = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if buf.len() > MAX_HEAD || tcp.read_buf(&mut buf).await? == 0 {
            return Err(invalid("no complete response head"));
        }
    };
    check_response(&buf[..head_len])?;
    buf.advance(head_len);
    Ok((tcp, buf))
}

/// Checks a response head: `101` with the right `Sec-WebSocket-Accept`.
fn check_response(head: &[u8]) -> io::Result<()> {
    let head = std::str::from_utf8(head).map_err(|_| invalid("response head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    if !status.starts_with("HTTP/1.1 101") {
        return Err(invalid(&format!("handshake refused: {status:?}")));
    }
    let accept = lines
        .filter_map(|line| line.split_once(':'))
        .find_map(|(name, value)| {
            name.trim()
                .eq_ignore_ascii_case("sec-websocket-accept")
                .then(|| value.trim())
        });
    if accept != Some(ACCEPT) {
        return Err(invalid(&format!("wrong Sec-WebSocket-Accept {accept:?}")));
    }
    Ok(())
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

/// The payload a connection sends: its sequence number, then a pattern that
/// differs between connections so a crossed wire would show.
pub fn payload(connection: usize, size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add(connection as u8)
                .wrapping_add((i >> 8) as u8)
        })
        .collect()
}

/// A binary message's masked frame, built once and re-stamped with a new
/// sequence number for every send.
#[derive(Debug)]
pub struct Outgoing {
    /// The whole frame, payload masked, its first `SEQ_LEN` bytes zero before masking.
    frame: Vec<u8>,
    /// Where the payload starts in `frame`.
    header_len: usize,
    /// The masking key.
    mask: [u8; 4],
}

impl Outgoing {
    /// The frame of `payload` (at least `SEQ_LEN` bytes) under `mask`.
    pub fn new(payload: &[u8], mask: [u8; 4]) -> Self {
        let mut frame = Vec::with_capacity(payload.len() + 14);
        frame.push(0x82); // FIN, binary
        match payload.len() {
            n @ 0..=125 => frame.push(0x80 | n as u8),
            n @ 126..=0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        let header_len = frame.len();
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        Outgoing {
            frame,
            header_len,
            mask,
        }
    }

    /// Appends the frame, carrying `seq` in its first `SEQ_LEN` bytes, to `out`.
    pub fn append(&self, seq: u64, out: &mut Vec<u8>) {
        let start = out.len() + self.header_len;
        out.extend_from_slice(&self.frame);
        for (i, b) in seq.to_le_bytes().iter().enumerate() {
            out[start + i] = b ^ self.mask[i % 4];
        }
    }

    /// Bytes of the frame.
    pub fn len(&self) -> usize {
        self.frame.len()
    }
}

/// A masked close frame with status 1000 (mask key zero: the XOR is a no-op).
pub const CLOSE_NORMAL: [u8; 8] = [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8];

/// A complete frame at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Encoded {
    /// The first byte: FIN, RSV and the opcode.
    pub first: u8,
    /// Where the payload starts.
    pub payload_start: usize,
    /// Bytes of the whole frame.
    pub len: usize,
}

impl Encoded {
    /// Whether this is a final, uncompressed binary frame, as every echo must be.
    pub fn is_whole_binary(&self) -> bool {
        self.first == 0x82
    }

    /// Payload bytes.
    pub fn payload_len(&self) -> usize {
        self.len - self.payload_start
    }
}

/// Parses the frame at the start of `buf`: `Ok(None)` until it is complete.
/// A server's frames must not be masked.
pub fn parse(buf: &[u8]) -> io::Result<Option<Encoded>> {
    let [first, second, ..] = *buf else {
        return Ok(None);
    };
    if second & 0x80 != 0 {
        return Err(invalid("the server masked a frame"));
    }
    let (header_len, payload_len) = match second & 0x7f {
        126 => match buf.get(2..4) {
            Some(b) => (4, u64::from(u16::from_be_bytes([b[0], b[1]]))),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => (10, u64::from_be_bytes(b.try_into().expect("8 bytes"))),
            None => return Ok(None),
        },
        n => (2, u64::from(n)),
    };
    let len = usize::try_from(payload_len)
        .ok()
        .and_then(|n| n.checked_add(header_len))
        .ok_or_else(|| invalid("frame too large"))?;
    Ok((buf.len() >= len).then_some(Encoded {
        first,
        payload_start: header_len,
        len,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unmask(frame: &[u8]) -> Vec<u8> {
        let (header_len, mask_at) = match frame[1] & 0x7f {
            126 => (8, 4),
            127 => (14, 10),
            _ => (6, 2),
        };
        let mask = &frame[mask_at..mask_at + 4];
        frame[header_len..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect()
    }

    #[test]
    fn outgoing_frames_carry_the_payload_and_sequence_number() {
        for size in [8, 125, 126, 65_535, 65_536] {
            let payload = payload(3, size);
            let outgoing = Outgoing::new(&payload, [0x12, 0x34, 0x56, 0x78]);
            let mut out = vec![0xaa]; // appending keeps what was there
            outgoing.append(0x0102_0304_0506_0708, &mut out);
            assert_eq!(out[0], 0xaa);
            assert_eq!(out.len(), 1 + outgoing.len());
            let sent = unmask(&out[1..]);
            assert_eq!(sent.len(), size);
            assert_eq!(sent[..SEQ_LEN], 0x0102_0304_0506_0708u64.to_le_bytes());
            assert_eq!(sent[SEQ_LEN..], payload[SEQ_LEN..]);
        }
    }

    #[test]
    fn server_frames_parse_once_complete() {
        let mut frame = vec![0x82, 126, 0x01, 0x00];
        frame.extend(std::iter::repeat_n(7, 256));
        for cut in 0..frame.len() {
            assert_eq!(parse(&frame[..cut]).unwrap(), None, "{cut}");
        }
        frame.push(0x99); // the next frame's first byte
        let parsed = parse(&frame).unwrap().unwrap();
        assert!(parsed.is_whole_binary());
        assert_eq!(
            (parsed.payload_start, parsed.len, parsed.payload_len()),
            (4, 260, 256)
        );

        let long = [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0];
        assert_eq!(parse(&long).unwrap(), None);
        assert!(parse(&[0x82, 0x80 | 5]).is_err(), "masked server frame");
        assert!(!parse(&[0x81, 0]).unwrap().unwrap().is_whole_binary());
    }

    #[test]
    fn responses_need_101_and_the_right_accept() {
        let good = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nsec-websocket-accept: {ACCEPT}\r\n\r\n");
        check_response(good.as_bytes()).unwrap();
        assert!(check_response(b"HTTP/1.1 400 Bad Request\r\n\r\n").is_err());
        let wrong = "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: xyz\r\n\r\n";
        assert!(check_response(wrong.as_bytes()).is_err());
    }
}
