//! Incremental UTF-8 validation; see [`Utf8Validator`].

/// Incremental UTF-8 validation for text messages (RFC 6455 §8.1).
///
/// A text message may be split across frames, and a frame across reads, at
/// any byte, even inside a multi-byte character. [`Utf8Validator`] is fed the
/// pieces in order and fails as soon as the bytes seen so far cannot be the
/// start of valid UTF-8, so a peer cannot stream megabytes of garbage before
/// being stopped. The bulk of each piece is checked with `simdutf8`; only a
/// character cut by a piece boundary (at most 3 bytes) is carried over.
#[derive(Debug, Default, Clone)]
pub struct Utf8Validator {
    /// The leading bytes of a character cut off by the end of the last piece.
    partial: [u8; 4],
    /// How many bytes of `partial` are in use (0 to 3).
    partial_len: usize,
}

/// The bytes seen so far are not a prefix of any valid UTF-8 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next piece of the message.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            input = self.complete_partial(input)?;
            if self.partial_len > 0 {
                return Ok(()); // `input` was used up and the character is still cut.
            }
        }
        // Keep a character cut by the end of the piece out of the bulk check,
        // so the bulk takes simdutf8's fast path (its error path re-checks).
        let cut = incomplete_tail_start(input);
        let (head, tail) = input.split_at(cut);
        if simdutf8::basic::from_utf8(head).is_err() {
            return Err(InvalidUtf8);
        }
        if !tail.is_empty() {
            match std::str::from_utf8(tail) {
                Err(e) if e.error_len().is_none() && e.valid_up_to() == 0 => {
                    self.partial[..tail.len()].copy_from_slice(tail);
                    self.partial_len = tail.len();
                }
                _ => return Err(InvalidUtf8),
            }
        }
        Ok(())
    }

    /// Whether the message may end here (no character is cut).
    pub fn is_complete(&self) -> bool {
        self.partial_len == 0
    }

    /// Checks that the message may end here, and resets for the next one.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.is_complete();
        self.partial_len = 0;
        if complete {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }

    /// Completes the carried-over character with the first bytes of `input`
    /// and returns what is left of `input`.
    fn complete_partial<'a>(&mut self, input: &'a [u8]) -> Result<&'a [u8], InvalidUtf8> {
        let width = match self.partial[0] {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return Err(InvalidUtf8), // never stored: simdutf8 would have rejected it
        };
        let take = (width - self.partial_len).min(input.len());
        let mut buf = self.partial;
        buf[self.partial_len..self.partial_len + take].copy_from_slice(&input[..take]);
        let have = self.partial_len + take;
        match std::str::from_utf8(&buf[..have]) {
            Ok(_) => {
                self.partial_len = 0;
                Ok(&input[take..])
            }
            Err(e) if e.error_len().is_none() && have < width => {
                self.partial = buf;
                self.partial_len = have;
                Ok(&input[take..])
            }
            Err(_) => Err(InvalidUtf8),
        }
    }
}

/// Where a multi-byte character that the end of `input` cuts short begins
/// (`input.len()` when the last character is whole).
fn incomplete_tail_start(input: &[u8]) -> usize {
    let n = input.len();
    for back in 1..=n.min(3) {
        let byte = input[n - back];
        if byte & 0xC0 != 0x80 {
            // The last lead (or ASCII) byte: how long is its character?
            let width = match byte {
                0xF0..=0xFF => 4,
                0xE0..=0xEF => 3,
                0xC0..=0xDF => 2,
                _ => 1,
            };
            return if width > back { n - back } else { n };
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn valid_in_pieces(bytes: &[u8], cuts: &[usize]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::new();
        let mut start = 0;
        for &cut in cuts {
            let cut = cut.clamp(start, bytes.len());
            v.feed(&bytes[start..cut])?;
            start = cut;
        }
        v.feed(&bytes[start..])?;
        v.finish()
    }

    #[test]
    fn fails_fast_on_invalid_prefix() {
        let mut v = Utf8Validator::new();
        assert!(v.feed(b"hello ").is_ok());
        assert_eq!(
            v.feed(&[0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce]),
            Ok(())
        );
        // 0xbc completes "κόσμε"; then a lone continuation byte is invalid at once.
        assert_eq!(v.feed(&[0xbc, 0xce, 0xb5, 0xed, 0xa0]), Err(InvalidUtf8)); // surrogate
    }

    #[test]
    fn incomplete_at_end_is_invalid() {
        let mut v = Utf8Validator::new();
        v.feed(&[0xf0, 0x9f]).unwrap();
        assert!(!v.is_complete());
        assert_eq!(v.finish(), Err(InvalidUtf8));
    }

    #[test]
    fn cut_inside_four_byte_char_each_way() {
        let s = "a😀b".as_bytes();
        for i in 0..=s.len() {
            for j in i..=s.len() {
                assert_eq!(valid_in_pieces(s, &[i, j]), Ok(()), "cuts {i} {j}");
            }
        }
    }

    #[test]
    fn rejects_bad_continuation_after_carry() {
        let mut v = Utf8Validator::new();
        v.feed(&[0xe2]).unwrap();
        assert_eq!(v.feed(&[0x28, 0xa1]), Err(InvalidUtf8));
        let mut v = Utf8Validator::new();
        v.feed(&[0xf4, 0x90]).map(|_| ()).unwrap_err(); // > U+10FFFF
    }

    proptest! {
        #[test]
        fn agrees_with_std(bytes in proptest::collection::vec(any::<u8>(), 0..64),
                           cuts in proptest::collection::vec(0usize..64, 0..5)) {
            let mut cuts = cuts;
            cuts.sort();
            let expected = std::str::from_utf8(&bytes).is_ok();
            prop_assert_eq!(valid_in_pieces(&bytes, &cuts).is_ok(), expected);
        }

        #[test]
        fn valid_text_any_split(s in "\\PC{0,40}", cuts in proptest::collection::vec(0usize..200, 0..6)) {
            let mut cuts = cuts;
            cuts.sort();
            prop_assert!(valid_in_pieces(s.as_bytes(), &cuts).is_ok());
        }
    }
}
