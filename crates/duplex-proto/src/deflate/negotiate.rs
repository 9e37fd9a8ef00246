//! `Sec-WebSocket-Extensions` parsing (RFC 6455 §9.1) and the
//! `permessage-deflate` parameter negotiation of RFC 7692 §7.1.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::{
    clamp_bits, DeflateConfig, DeflateParams, NegotiationError, EXTENSION_NAME, MAX_WINDOW_BITS,
};

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

impl DeflateConfig {
    /// The client's `Sec-WebSocket-Extensions` request header value, e.g.
    /// `permessage-deflate; client_max_window_bits`.
    ///
    /// `client_max_window_bits` is always included (with our limit as a hint
    /// when it is below 15) so the server may constrain our window;
    /// `server_max_window_bits` is only requested when configured below 15.
    pub fn client_offer(&self) -> String {
        let mut offer = String::from(EXTENSION_NAME);
        if self.server_no_context_takeover {
            offer.push_str("; ");
            offer.push_str(SERVER_NO_CONTEXT_TAKEOVER);
        }
        if self.client_no_context_takeover {
            offer.push_str("; ");
            offer.push_str(CLIENT_NO_CONTEXT_TAKEOVER);
        }
        let server_bits = clamp_bits(self.server_max_window_bits);
        if server_bits < MAX_WINDOW_BITS {
            let _ = write!(offer, "; {SERVER_MAX_WINDOW_BITS}={server_bits}");
        }
        offer.push_str("; ");
        offer.push_str(CLIENT_MAX_WINDOW_BITS);
        let client_bits = clamp_bits(self.client_max_window_bits);
        if client_bits < MAX_WINDOW_BITS {
            let _ = write!(offer, "={client_bits}");
        }
        offer
    }

    /// Server side: picks the first acceptable `permessage-deflate` offer in
    /// the request's `Sec-WebSocket-Extensions` values (pass every header
    /// line; each may hold a comma-separated list) and returns the negotiated
    /// parameters with the response header value.
    ///
    /// Returns `None` when there is no acceptable offer; the connection then
    /// goes on without compression. Offers that are malformed or invalid
    /// (unknown or duplicate parameter, bad value) are declined and skipped,
    /// as RFC 7692 §5 and §7 require; other extensions are ignored.
    pub fn negotiate_server(&self, header_values: &[&str]) -> Option<(DeflateParams, String)> {
        header_values
            .iter()
            .flat_map(|value| split_list(value))
            .filter_map(|element| parse_element(element).ok().flatten())
            .filter(|ext| ext.name.eq_ignore_ascii_case(EXTENSION_NAME))
            .find_map(|ext| parse_params(&ext.params, Side::Offer).ok())
            .map(|offer| self.answer_offer(&offer))
    }

    /// Client side: validates the response's `Sec-WebSocket-Extensions`
    /// values (pass every header line) against the offer made by
    /// [`DeflateConfig::client_offer`] with this same configuration.
    ///
    /// `Ok(None)`: the server declined compression. `Err`: the client must
    /// fail the WebSocket connection (RFC 6455 §9.1, RFC 7692 §7). Call it
    /// only when the offer was sent; without an offer any extension in the
    /// response is an error.
    pub fn accept_client(
        &self,
        header_values: &[&str],
    ) -> Result<Option<DeflateParams>, NegotiationError> {
        let mut response = None;
        for element in header_values.iter().flat_map(|value| split_list(value)) {
            let Some(ext) = parse_element(element).map_err(|()| NegotiationError::Malformed)?
            else {
                continue;
            };
            if !ext.name.eq_ignore_ascii_case(EXTENSION_NAME) {
                return Err(NegotiationError::UnexpectedExtension(ext.name.to_owned()));
            }
            if response.is_some() {
                return Err(NegotiationError::DuplicateExtension);
            }
            response = Some(parse_params(&ext.params, Side::Response)?);
        }
        response.map(|r| self.check_response(&r)).transpose()
    }

    /// Builds the server's answer to one valid offer.
    fn answer_offer(&self, offer: &Negotiated) -> (DeflateParams, String) {
        let server_no_context_takeover =
            offer.server_no_context_takeover || self.server_no_context_takeover;
        let client_no_context_takeover =
            offer.client_no_context_takeover || self.client_no_context_takeover;

        // RFC 7692 §7.1.2.1: accept a requested limit by echoing it (same or
        // smaller); we may also impose our own limit unasked.
        let config_server_bits = clamp_bits(self.server_max_window_bits);
        let server_bits = offer
            .server_max_window_bits
            .unwrap_or(MAX_WINDOW_BITS)
            .min(config_server_bits);
        let send_server_bits =
            offer.server_max_window_bits.is_some() || server_bits < MAX_WINDOW_BITS;

        // RFC 7692 §7.1.2.2: only when offered; a value in the offer is the
        // client's own promise, so only answer when we want less than that.
        let config_client_bits = clamp_bits(self.client_max_window_bits);
        let (client_bits, send_client_bits) = match offer.client_max_window_bits {
            None => (MAX_WINDOW_BITS, false),
            Some(hint) => {
                let hint = hint.unwrap_or(MAX_WINDOW_BITS);
                if config_client_bits < hint {
                    (config_client_bits, true)
                } else {
                    (hint, false)
                }
            }
        };

        let mut response = String::from(EXTENSION_NAME);
        if server_no_context_takeover {
            response.push_str("; ");
            response.push_str(SERVER_NO_CONTEXT_TAKEOVER);
        }
        if client_no_context_takeover {
            response.push_str("; ");
            response.push_str(CLIENT_NO_CONTEXT_TAKEOVER);
        }
        if send_server_bits {
            let _ = write!(response, "; {SERVER_MAX_WINDOW_BITS}={server_bits}");
        }
        if send_client_bits {
            let _ = write!(response, "; {CLIENT_MAX_WINDOW_BITS}={client_bits}");
        }
        let params = DeflateParams {
            server_no_context_takeover,
            client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        };
        (params, response)
    }

    /// Checks a syntactically valid response against our offer.
    fn check_response(&self, response: &Negotiated) -> Result<DeflateParams, NegotiationError> {
        // RFC 7692 §7.1.1.1: the server accepts a requested
        // server_no_context_takeover by echoing it; it may add it unasked.
        if self.server_no_context_takeover && !response.server_no_context_takeover {
            return Err(NegotiationError::MissingParameter(
                SERVER_NO_CONTEXT_TAKEOVER,
            ));
        }
        // RFC 7692 §7.1.2.1: a requested limit must be echoed, same or
        // smaller; without a request the server may state any window.
        let offered_server_bits = clamp_bits(self.server_max_window_bits);
        let server_bits = match response.server_max_window_bits {
            Some(got) if got > offered_server_bits => {
                return Err(NegotiationError::WindowTooLarge {
                    offered: offered_server_bits,
                    got,
                })
            }
            Some(got) => got,
            None if offered_server_bits < MAX_WINDOW_BITS => {
                return Err(NegotiationError::MissingParameter(SERVER_MAX_WINDOW_BITS))
            }
            None => MAX_WINDOW_BITS,
        };
        // RFC 7692 §7.1.2.2: we always offer client_max_window_bits, so any
        // value is allowed; we never exceed the hint we offered either.
        let own_client_bits = clamp_bits(self.client_max_window_bits);
        let client_bits = response
            .client_max_window_bits
            .flatten()
            .map_or(own_client_bits, |bits| bits.min(own_client_bits));
        Ok(DeflateParams {
            server_no_context_takeover: response.server_no_context_takeover,
            client_no_context_takeover: response.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        })
    }
}

/// Which message the parameters come from: an offer may carry
/// `client_max_window_bits` without a value, a response may not.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Offer,
    Response,
}

/// The validated parameters of one offer or response.
#[derive(Debug, Default, PartialEq, Eq)]
struct Negotiated {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (offers only).
    client_max_window_bits: Option<Option<u8>>,
}

/// Validates `permessage-deflate` parameters (RFC 7692 §7: unknown,
/// duplicate or invalid parameters make the offer/response unacceptable).
fn parse_params(
    params: &[(&str, Option<Cow<'_, str>>)],
    side: Side,
) -> Result<Negotiated, NegotiationError> {
    let mut out = Negotiated::default();
    let mut seen = [false; 4];
    for (name, value) in params {
        let value = value.as_deref();
        let (index, name): (usize, &'static str) =
            if name.eq_ignore_ascii_case(SERVER_NO_CONTEXT_TAKEOVER) {
                (0, SERVER_NO_CONTEXT_TAKEOVER)
            } else if name.eq_ignore_ascii_case(CLIENT_NO_CONTEXT_TAKEOVER) {
                (1, CLIENT_NO_CONTEXT_TAKEOVER)
            } else if name.eq_ignore_ascii_case(SERVER_MAX_WINDOW_BITS) {
                (2, SERVER_MAX_WINDOW_BITS)
            } else if name.eq_ignore_ascii_case(CLIENT_MAX_WINDOW_BITS) {
                (3, CLIENT_MAX_WINDOW_BITS)
            } else {
                return Err(NegotiationError::UnknownParameter((*name).to_owned()));
            };
        if std::mem::replace(&mut seen[index], true) {
            return Err(NegotiationError::DuplicateParameter(name));
        }
        let invalid = || NegotiationError::InvalidValue(name);
        match index {
            0 | 1 => {
                if value.is_some() {
                    return Err(invalid());
                }
                if index == 0 {
                    out.server_no_context_takeover = true;
                } else {
                    out.client_no_context_takeover = true;
                }
            }
            2 => {
                let bits = value.and_then(parse_window_bits).ok_or_else(invalid)?;
                out.server_max_window_bits = Some(bits);
            }
            _ => {
                let bits = match value {
                    None if side == Side::Offer => None,
                    None => return Err(invalid()),
                    Some(v) => Some(parse_window_bits(v).ok_or_else(invalid)?),
                };
                out.client_max_window_bits = Some(bits);
            }
        }
    }
    Ok(out)
}

/// RFC 7692 §7.1.2: a decimal integer 8..=15 without leading zeroes.
fn parse_window_bits(value: &str) -> Option<u8> {
    match value {
        "8" => Some(8),
        "9" => Some(9),
        "10" => Some(10),
        "11" => Some(11),
        "12" => Some(12),
        "13" => Some(13),
        "14" => Some(14),
        "15" => Some(15),
        _ => None,
    }
}

/// One element of an extension list: the extension token and its
/// parameters (values unquoted).
#[derive(Debug, PartialEq, Eq)]
struct Extension<'a> {
    name: &'a str,
    params: Vec<(&'a str, Option<Cow<'a, str>>)>,
}

/// Splits a header value into list elements at commas outside quoted
/// strings. An unterminated quoted string swallows the rest of the value
/// (and then fails to parse).
fn split_list(value: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let s = rest?;
        let bytes = s.as_bytes();
        let (mut in_quotes, mut escaped) = (false, false);
        for (i, &b) in bytes.iter().enumerate() {
            if in_quotes {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_quotes = false;
                }
            } else if b == b'"' {
                in_quotes = true;
            } else if b == b',' {
                rest = Some(&s[i + 1..]);
                return Some(&s[..i]);
            }
        }
        rest = None;
        Some(s)
    })
}

/// Parses one list element, `token *( OWS ";" OWS token [ OWS "=" OWS
/// ( token / quoted-string ) ] )`. `Ok(None)` for an empty element (allowed
/// by the `#rule`), `Err` for a syntax error.
fn parse_element(element: &str) -> Result<Option<Extension<'_>>, ()> {
    let mut cursor = Cursor { s: element, pos: 0 };
    cursor.skip_ows();
    if cursor.at_end() {
        return Ok(None);
    }
    let name = cursor.token()?;
    let mut params = Vec::new();
    loop {
        cursor.skip_ows();
        if cursor.at_end() {
            return Ok(Some(Extension { name, params }));
        }
        cursor.expect(b';')?;
        cursor.skip_ows();
        let param = cursor.token()?;
        cursor.skip_ows();
        let value = if cursor.peek() == Some(b'=') {
            cursor.pos += 1;
            cursor.skip_ows();
            Some(if cursor.peek() == Some(b'"') {
                cursor.quoted_token()?
            } else {
                Cow::Borrowed(cursor.token()?)
            })
        } else {
            None
        };
        params.push((param, value));
    }
}

/// A byte cursor over an ASCII header value.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), ()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(())
        }
    }

    /// A non-empty RFC 7230 token.
    fn token(&mut self) -> Result<&'a str, ()> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        if self.pos == start {
            Err(())
        } else {
            Ok(&self.s[start..self.pos])
        }
    }

    /// A quoted-string whose unescaped content must be a token (RFC 6455
    /// §9.1). Borrowed unless it contains escapes.
    fn quoted_token(&mut self) -> Result<Cow<'a, str>, ()> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut unescaped: Option<String> = None;
        loop {
            let b = self.peek().ok_or(())?;
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let escaped = self.peek().ok_or(())?;
                    let owned =
                        unescaped.get_or_insert_with(|| self.s[start..self.pos - 1].to_owned());
                    self.pos += 1;
                    if !is_tchar(escaped) {
                        return Err(());
                    }
                    owned.push(char::from(escaped));
                }
                _ if is_tchar(b) => {
                    if let Some(owned) = unescaped.as_mut() {
                        owned.push(char::from(b));
                    }
                }
                _ => return Err(()),
            }
        }
        let value = match unescaped {
            Some(owned) => Cow::Owned(owned),
            None => Cow::Borrowed(&self.s[start..self.pos - 1]),
        };
        if value.is_empty() {
            Err(())
        } else {
            Ok(value)
        }
    }
}

/// RFC 7230 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(snct: bool, cnct: bool, sbits: u8, cbits: u8) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: snct,
            client_no_context_takeover: cnct,
            server_max_window_bits: sbits,
            client_max_window_bits: cbits,
        }
    }

    #[test]
    fn client_offer_strings() {
        let cases = [
            (
                DeflateConfig::default(),
                "permessage-deflate; client_max_window_bits",
            ),
            (
                DeflateConfig::default()
                    .with_server_no_context_takeover(true)
                    .with_client_no_context_takeover(true)
                    .with_server_max_window_bits(10)
                    .with_client_max_window_bits(12),
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=10; client_max_window_bits=12",
            ),
            (
                DeflateConfig {
                    server_max_window_bits: 3,
                    client_max_window_bits: 200,
                    ..DeflateConfig::default()
                },
                "permessage-deflate; server_max_window_bits=9; client_max_window_bits",
            ),
        ];
        for (config, expected) in cases {
            assert_eq!(config.client_offer(), expected);
        }
    }

    #[test]
    fn list_splitting_respects_quotes() {
        let parts: Vec<&str> = split_list(r#"a; x="1,2", b;y="\"," , ,c"#).collect();
        assert_eq!(parts, [r#"a; x="1,2""#, r#" b;y="\"," "#, " ", "c"]);
        let parts: Vec<&str> = split_list(r#"a; x="1, b"#).collect();
        assert_eq!(parts, [r#"a; x="1, b"#]);
        assert_eq!(split_list("").collect::<Vec<_>>(), [""]);
    }

    #[test]
    fn element_parsing() {
        let ext = parse_element(" foo ;\tbar ; baz = 1 ; q=\"a\\bc\" ; r=\"10\"")
            .unwrap()
            .unwrap();
        assert_eq!(ext.name, "foo");
        let p: Vec<(&str, Option<&str>)> =
            ext.params.iter().map(|(n, v)| (*n, v.as_deref())).collect();
        assert_eq!(
            p,
            [
                ("bar", None),
                ("baz", Some("1")),
                ("q", Some("abc")),
                ("r", Some("10"))
            ]
        );
        assert!(matches!(ext.params[2].1, Some(Cow::Owned(_))));
        assert!(matches!(ext.params[3].1, Some(Cow::Borrowed(_))));
        assert_eq!(parse_element("  \t"), Ok(None));
        for bad in [
            "foo;",
            "foo; =1",
            "foo; a=",
            "foo; a=\"\"",
            "foo; a=\"1 0\"",
            "foo; a=\"10",
            "foo; a=\"1\\",
            "foo bar",
            "foo; a b",
            ";a",
            "foo; a=1=2",
            "f\u{e9}o",
            "foo; a=\"\\\u{e9}\"",
        ] {
            assert_eq!(parse_element(bad), Err(()), "{bad:?}");
        }
    }

    #[test]
    fn window_bits_values() {
        for (v, expected) in [
            ("8", Some(8)),
            ("9", Some(9)),
            ("15", Some(15)),
            ("7", None),
            ("16", None),
            ("08", None),
            ("+9", None),
            ("abc", None),
            ("", None),
            ("1 5", None),
        ] {
            assert_eq!(parse_window_bits(v), expected, "{v:?}");
        }
    }

    /// Request header values and the expected (params, response).
    type ServerCase<'a> = (&'a [&'a str], Option<(DeflateParams, &'a str)>);

    #[test]
    fn server_negotiation_table() {
        let d = DeflateConfig::default();
        let cases: Vec<ServerCase<'_>> = vec![
            // Nothing usable.
            (&[], None),
            (&[""], None),
            (&["x-webkit-deflate-frame", "foo; bar=1"], None),
            (&["permessage-deflate; client_max_window_bits=7"], None),
            (&["permessage-deflate; client_max_window_bits=16"], None),
            (&["permessage-deflate; client_max_window_bits=abc"], None),
            (&["permessage-deflate; server_max_window_bits=08"], None),
            (&["permessage-deflate; server_max_window_bits"], None),
            (&["permessage-deflate; server_max_window_bits=\"\""], None),
            (&["permessage-deflate; server_no_context_takeover=1"], None),
            (&["permessage-deflate; client_no_context_takeover=\"x\""], None),
            (&["permessage-deflate; foo"], None),
            (&["permessage-deflate; mux"], None),
            (
                &["permessage-deflate; client_max_window_bits; client_max_window_bits=10"],
                None,
            ),
            (
                &["permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
                None,
            ),
            (&["permessage-deflate; server_max_window_bits=\"10"], None),
            // Plain offers.
            (
                &["permessage-deflate"],
                Some((params(false, false, 15, 15), "permessage-deflate")),
            ),
            (
                &["PerMessage-Deflate"],
                Some((params(false, false, 15, 15), "permessage-deflate")),
            ),
            (
                &["permessage-deflate; client_max_window_bits"],
                Some((params(false, false, 15, 15), "permessage-deflate")),
            ),
            (
                &["permessage-deflate; client_max_window_bits=10"],
                Some((params(false, false, 15, 10), "permessage-deflate")),
            ),
            (
                &["permessage-deflate; client_max_window_bits=8"],
                Some((params(false, false, 15, 8), "permessage-deflate")),
            ),
            (
                &["permessage-deflate; server_max_window_bits=10"],
                Some((
                    params(false, false, 10, 15),
                    "permessage-deflate; server_max_window_bits=10",
                )),
            ),
            (
                &["permessage-deflate; server_max_window_bits=15"],
                Some((
                    params(false, false, 15, 15),
                    "permessage-deflate; server_max_window_bits=15",
                )),
            ),
            // Quoted values (RFC 7692 §7 allows them).
            (
                &["permessage-deflate; server_max_window_bits=\"12\"; client_max_window_bits=\"1\\1\""],
                Some((
                    params(false, false, 12, 11),
                    "permessage-deflate; server_max_window_bits=12",
                )),
            ),
            // Autobahn 13.2.x / 13.3.x / 13.5.x / 13.6.x client offers.
            (
                &["permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover"],
                Some((
                    params(true, true, 15, 15),
                    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                )),
            ),
            (
                &["permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=8"],
                Some((
                    params(false, true, 8, 15),
                    "permessage-deflate; client_no_context_takeover; server_max_window_bits=8",
                )),
            ),
            (
                &["permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=8"],
                Some((
                    params(true, true, 8, 15),
                    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8",
                )),
            ),
            // Autobahn 13.7.x: three offers, the first acceptable one wins.
            (
                &["permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=8, permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover, permessage-deflate; client_no_context_takeover; client_max_window_bits"],
                Some((
                    params(true, true, 8, 15),
                    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8",
                )),
            ),
            // RFC 7692 §5.2 example (folded header, unfolded by the HTTP parser).
            (
                &["permessage-deflate;\t client_max_window_bits; server_max_window_bits=10, \
                   permessage-deflate;\t client_max_window_bits"],
                Some((
                    params(false, false, 10, 15),
                    "permessage-deflate; server_max_window_bits=10",
                )),
            ),
            // Invalid offers are skipped, later ones accepted.
            (
                &["permessage-deflate; client_max_window_bits=16, permessage-deflate; server_max_window_bits=9"],
                Some((
                    params(false, false, 9, 15),
                    "permessage-deflate; server_max_window_bits=9",
                )),
            ),
            (
                &[
                    "foo, permessage-deflate; unknown",
                    "permessage-deflate; x=\"1",
                    ", ,permessage-deflate ; server_no_context_takeover",
                ],
                Some((
                    params(true, false, 15, 15),
                    "permessage-deflate; server_no_context_takeover",
                )),
            ),
        ];
        for (headers, expected) in cases {
            let got = d.negotiate_server(headers);
            let expected = expected.map(|(p, s)| (p, s.to_owned()));
            assert_eq!(got, expected, "{headers:?}");
        }
    }

    #[test]
    fn server_config_constrains_response() {
        let config = DeflateConfig::default()
            .with_server_no_context_takeover(true)
            .with_client_no_context_takeover(true)
            .with_server_max_window_bits(10)
            .with_client_max_window_bits(11);
        let cases: Vec<(&str, DeflateParams, &str)> = vec![
            (
                "permessage-deflate; client_max_window_bits",
                params(true, true, 10, 11),
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=10; client_max_window_bits=11",
            ),
            // The client did not offer client_max_window_bits: we must not
            // answer it and the client keeps its 32 KiB window.
            (
                "permessage-deflate",
                params(true, true, 10, 15),
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=10",
            ),
            (
                "permessage-deflate; server_max_window_bits=12; client_max_window_bits=13",
                params(true, true, 10, 11),
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=10; client_max_window_bits=11",
            ),
            (
                "permessage-deflate; server_max_window_bits=9; client_max_window_bits=10",
                params(true, true, 9, 10),
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=9",
            ),
        ];
        for (offer, expected_params, expected_response) in cases {
            let (p, response) = config.negotiate_server(&[offer]).expect(offer);
            assert_eq!(p, expected_params, "{offer}");
            assert_eq!(response, expected_response, "{offer}");
        }
    }

    #[test]
    fn client_accept_table() {
        let d = DeflateConfig::default();
        let ok: Vec<(&[&str], Option<DeflateParams>)> = vec![
            (&[], None),
            (&[""], None),
            (&[" , "], None),
            (&["permessage-deflate"], Some(params(false, false, 15, 15))),
            (
                &["permessage-deflate; server_no_context_takeover; client_no_context_takeover"],
                Some(params(true, true, 15, 15)),
            ),
            (
                &["permessage-deflate; server_max_window_bits=8; client_max_window_bits=8"],
                Some(params(false, false, 8, 8)),
            ),
            (
                &["permessage-deflate; client_max_window_bits=\"9\"; server_max_window_bits=15"],
                Some(params(false, false, 15, 9)),
            ),
            (
                &["", "Permessage-Deflate ;Server_Max_Window_Bits=10"],
                Some(params(false, false, 10, 15)),
            ),
        ];
        for (headers, expected) in ok {
            assert_eq!(d.accept_client(headers), Ok(expected), "{headers:?}");
        }

        use NegotiationError as E;
        let err: Vec<(&[&str], NegotiationError)> =
            vec![
            (&["foo"], E::UnexpectedExtension("foo".into())),
            (
                &["permessage-deflate, x-webkit-deflate-frame"],
                E::UnexpectedExtension("x-webkit-deflate-frame".into()),
            ),
            (
                &["permessage-deflate, permessage-deflate"],
                E::DuplicateExtension,
            ),
            (
                &["permessage-deflate", "permessage-deflate; server_max_window_bits=9"],
                E::DuplicateExtension,
            ),
            (&["permessage-deflate;"], E::Malformed),
            (&["permessage-deflate; a=\"1"], E::Malformed),
            (
                &["permessage-deflate; client_max_window_bits"],
                E::InvalidValue(CLIENT_MAX_WINDOW_BITS),
            ),
            (
                &["permessage-deflate; client_max_window_bits=16"],
                E::InvalidValue(CLIENT_MAX_WINDOW_BITS),
            ),
            (
                &["permessage-deflate; server_max_window_bits=7"],
                E::InvalidValue(SERVER_MAX_WINDOW_BITS),
            ),
            (
                &["permessage-deflate; server_max_window_bits=abc"],
                E::InvalidValue(SERVER_MAX_WINDOW_BITS),
            ),
            (
                &["permessage-deflate; server_no_context_takeover=true"],
                E::InvalidValue(SERVER_NO_CONTEXT_TAKEOVER),
            ),
            (
                &["permessage-deflate; client_no_context_takeover; client_no_context_takeover"],
                E::DuplicateParameter(CLIENT_NO_CONTEXT_TAKEOVER),
            ),
            (
                &["permessage-deflate; foo=1"],
                E::UnknownParameter("foo".into()),
            ),
        ];
        for (headers, expected) in err {
            assert_eq!(d.accept_client(headers), Err(expected), "{headers:?}");
        }
    }

    #[test]
    fn client_checks_against_its_offer() {
        let config = DeflateConfig::default()
            .with_server_no_context_takeover(true)
            .with_server_max_window_bits(10)
            .with_client_max_window_bits(10);
        use NegotiationError as E;
        let cases: Vec<(&str, Result<Option<DeflateParams>, NegotiationError>)> = vec![
            (
                "permessage-deflate; server_max_window_bits=10",
                Err(E::MissingParameter(SERVER_NO_CONTEXT_TAKEOVER)),
            ),
            (
                "permessage-deflate; server_no_context_takeover",
                Err(E::MissingParameter(SERVER_MAX_WINDOW_BITS)),
            ),
            (
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
                Err(E::WindowTooLarge {
                    offered: 10,
                    got: 11,
                }),
            ),
            (
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
                Ok(Some(params(true, false, 9, 10))),
            ),
            // The server ignored our hint of 10: we still stay within it.
            (
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
                Ok(Some(params(true, false, 10, 10))),
            ),
            (
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits=8; client_no_context_takeover",
                Ok(Some(params(true, true, 8, 8))),
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(config.accept_client(&[header]), expected, "{header}");
        }
        // Our own client_no_context_takeover applies even if not echoed.
        let config = DeflateConfig::default().with_client_no_context_takeover(true);
        assert_eq!(
            config.accept_client(&["permessage-deflate"]),
            Ok(Some(params(false, true, 15, 15)))
        );
    }

    #[test]
    fn client_and_server_agree() {
        let bits = [9u8, 12, 15];
        let flags = [false, true];
        let mut configs = Vec::new();
        for &snct in &flags {
            for &cnct in &flags {
                for &sb in &bits {
                    for &cb in &bits {
                        configs.push(
                            DeflateConfig::default()
                                .with_server_no_context_takeover(snct)
                                .with_client_no_context_takeover(cnct)
                                .with_server_max_window_bits(sb)
                                .with_client_max_window_bits(cb),
                        );
                    }
                }
            }
        }
        for client in &configs {
            for server in &configs {
                let offer = client.client_offer();
                let (server_params, response) = server
                    .negotiate_server(&[offer.as_str()])
                    .unwrap_or_else(|| panic!("declined {offer}"));
                let client_params = client
                    .accept_client(&[response.as_str()])
                    .unwrap_or_else(|e| panic!("{offer} -> {response}: {e}"))
                    .unwrap();
                assert_eq!(client_params, server_params, "{offer} -> {response}");
                let p = client_params;
                assert!(p.server_max_window_bits <= client.server_max_window_bits);
                assert!(p.server_max_window_bits <= server.server_max_window_bits);
                assert!(p.client_max_window_bits <= client.client_max_window_bits);
                assert!(p.client_max_window_bits <= server.client_max_window_bits);
                assert!(p.server_no_context_takeover >= client.server_no_context_takeover);
                assert!(p.server_no_context_takeover >= server.server_no_context_takeover);
                assert!(p.client_no_context_takeover >= client.client_no_context_takeover);
                assert!(p.client_no_context_takeover >= server.client_no_context_takeover);
            }
        }
    }
}
