//! The shared SQL layer's values on the `postgres` driver: [`Value`] binds as the parameter's
//! own type (dates as `timestamptz`, integers as `integer` or `bigint`), and
//! [`postgres::Row`] implements [`Row`].

use std::error::Error;

use bytes::BytesMut;
use postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use time::OffsetDateTime;

use crate::storage::sql::{Row, SqlResult, Value};

type BoxError = Box<dyn Error + Sync + Send>;

impl ToSql for Value<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        // Each arm checks the parameter's type as the wrapped value's own impl does.
        match self {
            Value::Text(s) => s.to_sql_checked(ty, out),
            Value::OptText(s) => s.to_sql_checked(ty, out),
            Value::Bool(b) => b.to_sql_checked(ty, out),
            Value::OptBool(b) => b.to_sql_checked(ty, out),
            Value::Int(i) if *ty == Type::INT4 => i32::try_from(*i)?.to_sql_checked(ty, out),
            Value::Int(i) if *ty == Type::INT2 => i16::try_from(*i)?.to_sql_checked(ty, out),
            Value::Int(i) => i.to_sql_checked(ty, out),
            Value::Date(t) => t.to_sql_checked(ty, out),
            Value::OptDate(t) => t.to_sql_checked(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Decided per value in `to_sql`.
        true
    }

    to_sql_checked!();
}

/// Reads whether a column is NULL, whatever its type.
struct Nullness(bool);

impl<'a> FromSql<'a> for Nullness {
    fn from_sql(_: &Type, _: &'a [u8]) -> Result<Nullness, BoxError> {
        Ok(Nullness(false))
    }

    fn from_sql_null(_: &Type) -> Result<Nullness, BoxError> {
        Ok(Nullness(true))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

impl Row for postgres::Row {
    fn text(&self, idx: usize) -> SqlResult<String> {
        Ok(self.try_get(idx)?)
    }

    fn opt_text(&self, idx: usize) -> SqlResult<Option<String>> {
        Ok(self.try_get(idx)?)
    }

    fn boolean(&self, idx: usize) -> SqlResult<bool> {
        Ok(self.try_get(idx)?)
    }

    fn int(&self, idx: usize) -> SqlResult<i64> {
        let ty = self.columns().get(idx).map(|c| c.type_().clone());
        Ok(match ty {
            Some(Type::INT2) => i64::from(self.try_get::<_, i16>(idx)?),
            Some(Type::INT4) => i64::from(self.try_get::<_, i32>(idx)?),
            _ => self.try_get(idx)?,
        })
    }

    fn date(&self, idx: usize) -> SqlResult<OffsetDateTime> {
        Ok(self.try_get(idx)?)
    }

    fn opt_date(&self, idx: usize) -> SqlResult<Option<OffsetDateTime>> {
        Ok(self.try_get(idx)?)
    }

    fn is_null(&self, idx: usize) -> SqlResult<bool> {
        Ok(self.try_get::<_, Nullness>(idx)?.0)
    }
}
