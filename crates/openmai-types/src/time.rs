use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time as milliseconds since the Unix epoch. On the wire it is a 13-digit string
/// (`"1728181396000"`), which is how the MaiAgent API writes every timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        Timestamp(i64::try_from(ms).unwrap_or(i64::MAX))
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn plus_millis(self, millis: i64) -> Self {
        Timestamp(self.0.saturating_add(millis))
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Timestamp(self.0.saturating_add(seconds.saturating_mul(1000)))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    /// Accepts both the string form we send and a bare integer.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Text(String),
            Number(i64),
        }
        match Either::deserialize(deserializer)? {
            Either::Number(n) => Ok(Timestamp(n)),
            Either::Text(s) => s.parse().map(Timestamp).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_a_thirteen_digit_string() {
        let text = serde_json::to_string(&Timestamp::now()).unwrap();
        assert_eq!(text.len(), 15, "{text}");
        assert!(text.trim_matches('"').bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn reads_strings_and_numbers() {
        let a: Timestamp = serde_json::from_str("\"1728181396000\"").unwrap();
        let b: Timestamp = serde_json::from_str("1728181396000").unwrap();
        assert_eq!(a, b);
        assert!(serde_json::from_str::<Timestamp>("\"soon\"").is_err());
    }
}
