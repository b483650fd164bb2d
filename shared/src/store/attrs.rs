//! Reading and writing attribute values.

use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;
use std::collections::HashMap;

use super::StoreError;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The pattern of [`time`].
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// RFC 3339 UTC with microseconds: fixed width, so it sorts as text.
pub(crate) fn time(ts: Timestamp) -> String {
    let t = jiff::tz::Offset::UTC.to_datetime(ts);
    let Ok(year) = u32::try_from(t.year()) else {
        return ts.strftime(TIME_FORMAT).to_string();
    };
    // Written digit by digit, the same text as `strftime(TIME_FORMAT)`: every ingest writes
    // one, and the general formatter reads its pattern each time (a tenth of building a
    // new ticket's transaction).
    let fields = [
        (year, 4, b'-'),
        (t.month() as u32, 2, b'-'),
        (t.day() as u32, 2, b'T'),
        (t.hour() as u32, 2, b':'),
        (t.minute() as u32, 2, b':'),
        (t.second() as u32, 2, b'.'),
        (t.subsec_nanosecond() as u32 / 1_000, 6, b'Z'),
    ];
    let mut out = Vec::with_capacity(27);
    for (value, width, then) in fields {
        for place in (0..width).rev() {
            out.push(b'0' + (value / 10u32.pow(place) % 10) as u8);
        }
        out.push(then);
    }
    String::from_utf8(out).expect("ASCII digits and separators")
}

pub(crate) fn opt_s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

pub(crate) fn req_s(item: &Item, name: &str) -> Result<String, StoreError> {
    opt_s(item, name).ok_or_else(|| StoreError::Corrupt(format!("missing string {name}")))
}

pub(crate) fn get_n(item: &Item, name: &str) -> u64 {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().unwrap_or(0),
        _ => 0,
    }
}

pub(crate) fn get_bool(item: &Item, name: &str) -> bool {
    matches!(item.get(name), Some(AttributeValue::Bool(true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn time_is_strftimes_text(
            seconds in 0i64..253_402_300_799, // 1970 to the end of 9999
            nanos in proptest::prop_oneof![proptest::strategy::Just(0i32), 0i32..1_000_000_000],
        ) {
            let ts = Timestamp::new(seconds, nanos).unwrap();
            proptest::prop_assert_eq!(time(ts), ts.strftime(TIME_FORMAT).to_string());
        }
    }

    #[test]
    fn time_before_1970_and_at_the_edges() {
        for ts in [
            Timestamp::UNIX_EPOCH,
            Timestamp::new(-1, 999_999_999).unwrap(),
            Timestamp::new(-62_135_596_800, 0).unwrap(), // 0001-01-01
            Timestamp::new(-62_167_219_200, 500).unwrap(), // 0000-01-01
            Timestamp::MIN,
            Timestamp::MAX,
            "2026-11-30T09:15:42.123456789Z".parse().unwrap(),
        ] {
            assert_eq!(time(ts), ts.strftime(TIME_FORMAT).to_string(), "{ts:?}");
        }
        assert_eq!(
            time("2026-11-30T09:15:42.1234569Z".parse().unwrap()),
            "2026-11-30T09:15:42.123456Z"
        );
    }
}
