//! Quiet hours: a daily interval during which alerts below Critical are
//! sent without a sound ("important enough not to mute, not important
//! enough to wake anyone"), in a time zone: a UTC offset, or an IANA zone
//! read from the system's time-zone database (its transitions: daylight
//! saving included).
//!
//! A leaf: the pipeline asks [`QuietHours::contains`] when it addresses an
//! alert; the builder and the environment parse it.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::Error;

/// Minutes in a day.
const DAY: u32 = 24 * 60;

/// A daily interval in a time zone, during which alerts below
/// [`AlertLevel::Critical`](crate::AlertLevel::Critical) are sent silently
/// (Critical still rings; digests are always silent).
///
/// ```
/// use tracing_telegram::QuietHours;
/// let night = QuietHours::parse("22:00-07:00 +01:00").unwrap();
/// # drop(night);
/// // Or an IANA zone, read from the system's time-zone database:
/// // QuietHours::parse("22:00-07:00 Europe/Berlin")
/// ```
#[derive(Clone, PartialEq)]
pub struct QuietHours {
    /// Start, in minutes after local midnight (inclusive).
    from: u32,
    /// End, in minutes after local midnight (exclusive); before `from` when
    /// the interval spans midnight.
    to: u32,
    zone: Zone,
    /// As written, for `Debug` and errors.
    spec: String,
}

impl fmt::Debug for QuietHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("QuietHours").field(&self.spec).finish()
    }
}

/// Where the day's hours are counted.
#[derive(Debug, Clone, PartialEq)]
enum Zone {
    /// A fixed offset from UTC, in seconds.
    Fixed(i32),
    /// An IANA zone's offsets over time.
    Table(Arc<Offsets>),
}

/// An IANA zone's offsets: from each transition (unix seconds) on, the
/// offset (seconds); before the first, `initial`.
#[derive(Debug, PartialEq)]
struct Offsets {
    transitions: Vec<(i64, i32)>,
    initial: i32,
}

impl QuietHours {
    /// `"HH:MM-HH:MM ZONE"`: the interval (it may span midnight, such as
    /// `22:00-07:00`) and the zone: `UTC`, an offset (`+02:00`, `-05:30`),
    /// or an IANA name (`Europe/Berlin`) from the system's time-zone
    /// database (`$TZDIR`, else `/usr/share/zoneinfo`). An error names
    /// what is wrong.
    pub fn parse(spec: &str) -> Result<Self, Error> {
        Self::parse_for("delivery.quiet_hours", spec)
    }

    /// [`parse`](Self::parse), with errors naming `option`.
    pub(crate) fn parse_for(option: &'static str, spec: &str) -> Result<Self, Error> {
        const EXPECTED: &str =
            "HH:MM-HH:MM and a zone: UTC, +HH:MM / -HH:MM, or an IANA name such as Europe/Berlin";
        let invalid = || Error::invalid(option, spec, EXPECTED);
        let mut parts = spec.split_whitespace();
        let (Some(interval), zone, None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        let (from, to) = interval.split_once('-').ok_or_else(invalid)?;
        let (from, to) = (minute_of_day(from), minute_of_day(to));
        let (Some(from), Some(to)) = (from, to) else {
            return Err(invalid());
        };
        if from == to {
            return Err(Error::invalid(
                option,
                spec,
                "an interval that is not empty",
            ));
        }
        let zone = match zone.unwrap_or("UTC") {
            "UTC" | "Z" | "utc" => Zone::Fixed(0),
            offset if offset.starts_with(['+', '-']) => {
                Zone::Fixed(parse_offset(offset).ok_or_else(invalid)?)
            }
            name => Zone::Table(Arc::new(read_zone(name).ok_or_else(|| {
                Error::invalid(
                    option,
                    spec,
                    "a zone the system's time-zone database knows (or a UTC offset such as +01:00)",
                )
            })?)),
        };
        Ok(QuietHours {
            from,
            to,
            zone,
            spec: spec.trim().to_owned(),
        })
    }

    /// Whether `at` falls in the quiet hours.
    pub fn contains(&self, at: SystemTime) -> bool {
        let unix = match at.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
        };
        let local = unix.saturating_add(i64::from(self.offset_at(unix)));
        // In 0..DAY: the cast keeps it.
        let minute = (local.rem_euclid(i64::from(DAY) * 60) / 60) as u32;
        if self.from < self.to {
            (self.from..self.to).contains(&minute)
        } else {
            minute >= self.from || minute < self.to
        }
    }

    fn offset_at(&self, unix: i64) -> i32 {
        match &self.zone {
            Zone::Fixed(offset) => *offset,
            Zone::Table(offsets) => {
                let after = offsets.transitions.partition_point(|(at, _)| *at <= unix);
                match after.checked_sub(1) {
                    Some(last) => offsets.transitions[last].1,
                    None => offsets.initial,
                }
            }
        }
    }
}

/// `HH:MM` → minutes after midnight (`24:00` is midnight too).
fn minute_of_day(text: &str) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours <= 24 && minutes < 60 && hours * 60 + minutes <= DAY)
        .then(|| (hours * 60 + minutes) % DAY)
}

/// `+HH:MM` / `-HH:MM` (or `+HH`) → seconds east of UTC.
fn parse_offset(text: &str) -> Option<i32> {
    let (sign, rest) = match text.split_at_checked(1)? {
        ("+", rest) => (1, rest),
        ("-", rest) => (-1, rest),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
    let (hours, minutes): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours <= 14 && (0..60).contains(&minutes)).then(|| sign * (hours * 3600 + minutes * 60))
}

/// The offsets of the IANA zone `name`, from the system's database.
fn read_zone(name: &str) -> Option<Offsets> {
    let safe = !name.is_empty()
        && !name.starts_with('/')
        && !name.split('/').any(|part| part.is_empty() || part == "..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'));
    if !safe {
        return None;
    }
    let dir = std::env::var_os("TZDIR").unwrap_or_else(|| "/usr/share/zoneinfo".into());
    let bytes = std::fs::read(std::path::Path::new(&dir).join(name)).ok()?;
    parse_tzif(&bytes)
}

/// A TZif file (RFC 8536): its transitions and offsets, from the 64-bit
/// block of a version 2+ file, else the 32-bit one. (Past the last
/// transition — 2037 in the files most systems ship — the last offset
/// holds.)
fn parse_tzif(bytes: &[u8]) -> Option<Offsets> {
    let header = Header::read(bytes)?;
    let (header, data, time_size) = if header.version >= b'2' {
        let second = bytes.get(44 + header.v1_len()..)?;
        let header = Header::read(second)?;
        (header, second.get(44..)?, 8)
    } else {
        (header, bytes.get(44..)?, 4)
    };
    let times_len = header.times * time_size;
    let times = data.get(..times_len)?;
    let indexes = data.get(times_len..times_len + header.times)?;
    let types_at = times_len + header.times;
    let types = data.get(types_at..types_at + header.types * 6)?;
    let offset_of = |index: usize| -> Option<i32> {
        let entry = types.get(index * 6..index * 6 + 4)?;
        Some(i32::from_be_bytes(entry.try_into().ok()?))
    };
    let mut transitions = Vec::with_capacity(header.times);
    for (i, index) in indexes.iter().enumerate() {
        let raw = times.get(i * time_size..(i + 1) * time_size)?;
        let at = match time_size {
            8 => i64::from_be_bytes(raw.try_into().ok()?),
            _ => i64::from(i32::from_be_bytes(raw.try_into().ok()?)),
        };
        transitions.push((at, offset_of(usize::from(*index))?));
    }
    Some(Offsets {
        transitions,
        initial: offset_of(0)?,
    })
}

/// The counts of a TZif header.
struct Header {
    version: u8,
    utc_indicators: usize,
    std_indicators: usize,
    leaps: usize,
    times: usize,
    types: usize,
    chars: usize,
}

impl Header {
    fn read(bytes: &[u8]) -> Option<Header> {
        if bytes.get(..4)? != b"TZif" {
            return None;
        }
        let count = |at: usize| -> Option<usize> {
            let raw = bytes.get(20 + at * 4..24 + at * 4)?;
            usize::try_from(u32::from_be_bytes(raw.try_into().ok()?)).ok()
        };
        Some(Header {
            version: *bytes.get(4)?,
            utc_indicators: count(0)?,
            std_indicators: count(1)?,
            leaps: count(2)?,
            times: count(3)?,
            types: count(4)?,
            chars: count(5)?,
        })
    }

    /// The length of the version 1 data block.
    fn v1_len(&self) -> usize {
        self.times * 5
            + self.types * 6
            + self.chars
            + self.leaps * 8
            + self.std_indicators
            + self.utc_indicators
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(unix: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(unix)
    }

    /// 2026-01-15 (winter) and 2026-07-15 (summer), midnight UTC.
    const WINTER: u64 = 1_768_435_200;
    const SUMMER: u64 = 1_784_073_600;

    #[test]
    fn an_interval_over_midnight_with_an_offset() {
        let night = QuietHours::parse("22:00-07:00 +01:00").unwrap();
        // 21:30 UTC is 22:30 at +01:00: quiet; 06:30 UTC is 07:30: not.
        assert!(night.contains(at(WINTER + 21 * 3600 + 1800)));
        assert!(!night.contains(at(WINTER + 6 * 3600 + 1800)));
        assert!(night.contains(at(WINTER + 5 * 3600)));
        let day = QuietHours::parse("09:00-17:00").unwrap();
        assert!(day.contains(at(WINTER + 9 * 3600)));
        assert!(!day.contains(at(WINTER + 17 * 3600)));
    }

    #[test]
    fn an_iana_zone_follows_daylight_saving() {
        let Ok(berlin) = QuietHours::parse("22:00-23:00 Europe/Berlin") else {
            eprintln!("no Europe/Berlin in the system's time-zone database: skipped");
            return;
        };
        // 21:30 UTC is 22:30 in Berlin in winter (+1) and 23:30 in summer (+2).
        assert!(berlin.contains(at(WINTER + 21 * 3600 + 1800)));
        assert!(!berlin.contains(at(SUMMER + 21 * 3600 + 1800)));
        assert!(berlin.contains(at(SUMMER + 20 * 3600 + 1800)));
    }

    #[test]
    fn bad_specs_are_errors_that_name_the_option() {
        for spec in [
            "",
            "22:00",
            "25:00-07:00",
            "22:00-07:61",
            "22:00-22:00",
            "22:00-07:00 +15:00",
            "22:00-07:00 Mars/Olympus",
            "22:00-07:00 ../../etc/passwd",
            "22:00-07:00 UTC extra",
        ] {
            let err = QuietHours::parse(spec).unwrap_err().to_string();
            assert!(err.contains("delivery.quiet_hours"), "{spec}: {err}");
        }
        assert!(parse_tzif(b"TZif2 not really").is_none());
    }
}
