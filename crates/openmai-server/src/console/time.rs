//! Dates for people: an epoch-millisecond [`Timestamp`] as `YYYY-MM-DD HH:MM` in UTC.

use openmai_types::Timestamp;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

fn utc(at: Timestamp) -> OffsetDateTime {
    let nanos = i128::from(at.millis()) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `YYYY-MM-DD HH:MM`, UTC.
pub fn format(at: Timestamp) -> String {
    utc(at).format(format_description!("[year]-[month]-[day] [hour]:[minute]")).unwrap_or_default()
}

/// RFC 3339 (`2024-10-06T02:23:16Z`), for `<time datetime>`.
pub fn iso(at: Timestamp) -> String {
    utc(at)
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_minutes() {
        assert_eq!(format(Timestamp(0)), "1970-01-01 00:00");
        assert_eq!(format(Timestamp(1_728_181_396_000)), "2024-10-06 02:23");
        assert_eq!(iso(Timestamp(1_728_181_396_123)), "2024-10-06T02:23:16Z");
        assert_eq!(format(Timestamp(951_782_400_000)), "2000-02-29 00:00");
        assert_eq!(format(Timestamp(-1)), "1969-12-31 23:59");
    }
}
