//! The shared SQL layer's values on SQLite, as Better Auth's SQLite adapter stores them: dates
//! as ISO-8601 text written exactly like JavaScript's `Date.toISOString()`
//! (`2026-11-26T19:42:01.429Z`), booleans as 0/1. [`Value`] binds that way and
//! [`rusqlite::Row`] implements [`Row`]. Reading is lenient about dates another tool may have
//! written: any RFC 3339 text, SQLite's own `YYYY-MM-DD HH:MM:SS[.SSS]` (UTC, as
//! `CURRENT_TIMESTAMP` writes), or a number of milliseconds since the epoch.

use rusqlite::types::{FromSqlError, ToSqlOutput, Type, ValueRef};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::clock::iso;
use crate::storage::sql::{Row, SqlResult, Value};

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::OptText(s) => s.map_or(ToSqlOutput::Borrowed(ValueRef::Null), |s| {
                ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
            }),
            Value::Bool(b) => ToSqlOutput::from(b),
            Value::OptBool(b) => b.map_or(ToSqlOutput::Borrowed(ValueRef::Null), ToSqlOutput::from),
            Value::Int(i) => ToSqlOutput::from(i),
            Value::Date(t) => ToSqlOutput::from(iso(t)),
            Value::OptDate(t) => t.map_or(ToSqlOutput::Borrowed(ValueRef::Null), |t| ToSqlOutput::from(iso(t))),
        })
    }
}

impl Row for rusqlite::Row<'_> {
    fn text(&self, idx: usize) -> SqlResult<String> {
        Ok(self.get(idx)?)
    }

    fn opt_text(&self, idx: usize) -> SqlResult<Option<String>> {
        Ok(self.get(idx)?)
    }

    fn boolean(&self, idx: usize) -> SqlResult<bool> {
        Ok(self.get(idx)?)
    }

    fn int(&self, idx: usize) -> SqlResult<i64> {
        Ok(self.get(idx)?)
    }

    fn date(&self, idx: usize) -> SqlResult<OffsetDateTime> {
        Ok(date(self, idx)?)
    }

    fn opt_date(&self, idx: usize) -> SqlResult<Option<OffsetDateTime>> {
        Ok(date_opt(self, idx)?)
    }

    fn is_null(&self, idx: usize) -> SqlResult<bool> {
        Ok(matches!(self.get_ref(idx)?, ValueRef::Null))
    }
}

/// The date in column `idx`.
pub fn date(row: &rusqlite::Row, idx: usize) -> rusqlite::Result<OffsetDateTime> {
    date_opt(row, idx)?.ok_or(rusqlite::Error::InvalidColumnType(idx, "date".into(), Type::Null))
}

/// The date in column `idx`, `None` for NULL.
pub fn date_opt(row: &rusqlite::Row, idx: usize) -> rusqlite::Result<Option<OffsetDateTime>> {
    let parsed = match row.get_ref(idx)? {
        ValueRef::Null => return Ok(None),
        ValueRef::Text(t) => std::str::from_utf8(t).ok().and_then(parse_text),
        ValueRef::Integer(ms) => from_millis(i128::from(ms)),
        // Whole milliseconds are all a JavaScript date holds.
        #[allow(clippy::cast_possible_truncation)]
        ValueRef::Real(ms) => from_millis(ms as i128),
        ValueRef::Blob(_) => None,
    };
    match parsed {
        Some(t) => Ok(Some(t)),
        None => Err(rusqlite::Error::FromSqlConversionFailure(
            idx,
            row.get_ref(idx)?.data_type(),
            Box::new(FromSqlError::Other("not a date Sesame can read".into())),
        )),
    }
}

fn parse_text(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let sql = format_description!("[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]");
    PrimitiveDateTime::parse(s, sql).ok().map(PrimitiveDateTime::assume_utc)
}

fn from_millis(ms: i128) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(ms.checked_mul(1_000_000)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;
    use time::macros::datetime;

    fn read(sql_value: &str) -> rusqlite::Result<Option<OffsetDateTime>> {
        let conn = Connection::open_in_memory().unwrap();
        conn.query_row(&format!("select {sql_value}"), [], |r| date_opt(r, 0))
    }

    #[test]
    fn reads_every_date_shape_and_writes_better_auths() {
        let t = datetime!(2026-11-26 19:42:01.429 UTC);
        assert_eq!(iso(t), "2026-11-26T19:42:01.429Z");
        assert_eq!(read("'2026-11-26T19:42:01.429Z'").unwrap(), Some(t));
        assert_eq!(read("'2026-11-26T20:42:01.429+01:00'").unwrap(), Some(t));
        assert_eq!(read("'2026-11-26 19:42:01.429'").unwrap(), Some(t));
        assert_eq!(
            read("'2026-11-26 19:42:01'").unwrap(),
            Some(datetime!(2026-11-26 19:42:01 UTC))
        );
        assert_eq!(
            read(&t.unix_timestamp().to_string()).unwrap().map(|d| d.year()),
            Some(1970)
        );
        assert_eq!(read("1795722121429").unwrap(), Some(t));
        assert_eq!(read("null").unwrap(), None);
        assert!(read("'yesterday'").is_err());
    }
}
