//! Keys: how key values are bound (`bigint` or text) and how key numbers become text.

use serde::{Deserialize, Serialize};

/// How key values are bound to statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// `BIGINT` keys: the key number itself.
    Bigint,
    /// Text keys built from [`TableSpec::key_format`].
    Text,
}

/// Formats key numbers into text keys without allocating per operation.
#[derive(Debug, Clone)]
pub struct KeyText {
    prefix: String,
    suffix: String,
    buf: String,
    key_type: KeyType,
}

impl KeyText {
    /// For a key type and a key format (`{}` marks where the key number goes, e.g. `user{}@example.com`).
    pub fn new(key_type: KeyType, key_format: &str) -> KeyText {
        let (prefix, suffix) = key_format.split_once("{}").unwrap_or((key_format, ""));
        KeyText {
            prefix: prefix.into(),
            suffix: suffix.into(),
            buf: String::with_capacity(64),
            key_type,
        }
    }

    /// The text of key `k` (for text keys).
    pub fn text(&mut self, k: u64) -> &str {
        use std::fmt::Write;
        self.buf.clear();
        let _ = write!(self.buf, "{}{}{}", self.prefix, k, self.suffix);
        &self.buf
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// Parses a key's text (or integer) back to its number; `None` for rows keyrace did not write.
    pub fn parse(&self, s: &str) -> Option<u64> {
        match self.key_type {
            KeyType::Bigint => s.parse().ok(),
            KeyType::Text => s
                .strip_prefix(self.prefix.as_str())?
                .strip_suffix(self.suffix.as_str())?
                .parse()
                .ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keys_round_trip() {
        let mut kt = KeyText::new(KeyType::Text, "user{}@x.org");
        assert_eq!(kt.text(42), "user42@x.org");
        assert_eq!(kt.parse("user42@x.org"), Some(42));
        assert_eq!(kt.parse("import-3"), None);
        assert_eq!(KeyText::new(KeyType::Bigint, "{}").parse("17"), Some(17));
    }
}
