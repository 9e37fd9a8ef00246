//! Validation of the demo's inputs: names, user ids, lines of text, query
//! parameters. Each rule is small and strict; a value that breaks one is
//! answered with 400 and never stored or published.

/// Characters of a player's name.
pub const MAX_NAME_LENGTH: usize = 32;
/// Every demo user id starts with this.
pub const USER_ID_PREFIX: &str = "demo-";
/// Characters of a user id after the prefix.
pub const MAX_USER_ID_LENGTH: usize = 32;

/// A request input that breaks a rule: answered with 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The field and its rule.
    #[error("invalid {0}: {1}")]
    Invalid(&'static str, &'static str),
}

/// A player's or user's name: see [`validate_line`], at most [`MAX_NAME_LENGTH`] characters.
pub fn validate_name(name: &str) -> Result<&str, InputError> {
    validate_line(name, "name", MAX_NAME_LENGTH)
}

/// One line of text: trimmed, 1 to `max_chars` characters, without control
/// characters or the invisible bidirectional controls that can make a name
/// read differently from what it is.
pub fn validate_line<'a>(
    text: &'a str,
    field: &'static str,
    max_chars: usize,
) -> Result<&'a str, InputError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(InputError::Invalid(field, "must not be empty"));
    }
    if text.chars().count() > max_chars {
        return Err(InputError::Invalid(field, "too long"));
    }
    let forbidden =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if text.chars().any(forbidden) {
        return Err(InputError::Invalid(
            field,
            "control characters are not allowed",
        ));
    }
    Ok(text)
}

/// A demo user id: [`USER_ID_PREFIX`] then 1 to [`MAX_USER_ID_LENGTH`] of `A-Z a-z 0-9 - _`.
pub fn validate_user_id(user_id: &str) -> Result<&str, InputError> {
    let rest = user_id.strip_prefix(USER_ID_PREFIX).unwrap_or("");
    let valid = !rest.is_empty()
        && rest.len() <= MAX_USER_ID_LENGTH
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(user_id)
    } else {
        Err(InputError::Invalid(
            "user_id",
            "\"demo-\" then 1 to 32 of A-Z, a-z, 0-9, - and _",
        ))
    }
}

/// The first value of `key` in a URL query, decoded (`+` and `%XX`).
pub fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    let value = query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then_some(v)
    })?;
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(validate_name("  Ann  "), Ok("Ann"));
        assert_eq!(
            validate_name("<img src=x onerror=alert(1)>"),
            Ok("<img src=x onerror=alert(1)>")
        );
        assert!(validate_name(&"é".repeat(MAX_NAME_LENGTH)).is_ok());
        for bad in [
            "",
            "   ",
            "a\tb",
            "a\u{7f}",
            "evil\u{202e}txt",
            &"x".repeat(MAX_NAME_LENGTH + 1),
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn user_ids() {
        assert!(validate_user_id("demo-a1_B-2").is_ok());
        for bad in [
            "",
            "demo-",
            "a1",
            "demo-a b",
            "demo-é",
            &format!("demo-{}", "x".repeat(MAX_USER_ID_LENGTH + 1)),
        ] {
            assert!(validate_user_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn query_params() {
        assert_eq!(
            query_param(Some("room=lobby&x=1"), "room").as_deref(),
            Some("lobby")
        );
        assert_eq!(
            query_param(Some("name=Ada+L%C3%B6w%3C"), "name").as_deref(),
            Some("Ada Löw<")
        );
        assert_eq!(
            query_param(Some("name=%zz"), "name").as_deref(),
            Some("%zz")
        );
        assert_eq!(query_param(Some("name=%FF"), "name"), None, "not UTF-8");
        assert_eq!(query_param(Some("rooms=a"), "room"), None);
        assert_eq!(query_param(None, "room"), None);
    }
}
