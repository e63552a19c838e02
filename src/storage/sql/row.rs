//! Values in and out of a statement, for either driver: [`Value`] is what the shared code
//! binds (each backend converts it: `storage/postgres/row.rs`, `storage/sqlite/row.rs`), and
//! [`Row`] is how it reads a result column. [`Cols`] reads a row's columns in order, so a
//! row mapper names no column positions and a join maps its tables one after the other.

use time::OffsetDateTime;

use super::SqlResult;

/// A statement parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Bool(bool),
    OptBool(Option<bool>),
    /// Bound as the parameter's integer type (PostgreSQL `integer` or `bigint`).
    Int(i64),
    Date(OffsetDateTime),
    OptDate(Option<OffsetDateTime>),
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Value<'a> {
        Value::Text(s)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(s: &'a String) -> Value<'a> {
        Value::Text(s)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(s: &'a Option<String>) -> Value<'a> {
        Value::OptText(s.as_deref())
    }
}

impl From<bool> for Value<'_> {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<Option<bool>> for Value<'_> {
    fn from(b: Option<bool>) -> Self {
        Value::OptBool(b)
    }
}

impl From<i64> for Value<'_> {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<OffsetDateTime> for Value<'_> {
    fn from(t: OffsetDateTime) -> Self {
        Value::Date(t)
    }
}

impl From<Option<OffsetDateTime>> for Value<'_> {
    fn from(t: Option<OffsetDateTime>) -> Self {
        Value::OptDate(t)
    }
}

/// A result row of either driver, read by column index.
pub trait Row {
    fn text(&self, idx: usize) -> SqlResult<String>;
    fn opt_text(&self, idx: usize) -> SqlResult<Option<String>>;
    fn boolean(&self, idx: usize) -> SqlResult<bool>;
    fn int(&self, idx: usize) -> SqlResult<i64>;
    fn date(&self, idx: usize) -> SqlResult<OffsetDateTime>;
    fn opt_date(&self, idx: usize) -> SqlResult<Option<OffsetDateTime>>;
    fn is_null(&self, idx: usize) -> SqlResult<bool>;
}

/// Reads a row's columns in order.
pub struct Cols<'r> {
    row: &'r dyn Row,
    at: usize,
}

impl<'r> Cols<'r> {
    pub fn new(row: &'r dyn Row) -> Cols<'r> {
        Cols { row, at: 0 }
    }

    fn next(&mut self) -> usize {
        self.at += 1;
        self.at - 1
    }

    /// How many columns have been read.
    pub fn read(&self) -> usize {
        self.at
    }

    pub fn text(&mut self) -> SqlResult<String> {
        let i = self.next();
        self.row.text(i)
    }

    pub fn opt_text(&mut self) -> SqlResult<Option<String>> {
        let i = self.next();
        self.row.opt_text(i)
    }

    pub fn boolean(&mut self) -> SqlResult<bool> {
        let i = self.next();
        self.row.boolean(i)
    }

    pub fn int(&mut self) -> SqlResult<i64> {
        let i = self.next();
        self.row.int(i)
    }

    pub fn date(&mut self) -> SqlResult<OffsetDateTime> {
        let i = self.next();
        self.row.date(i)
    }

    pub fn opt_date(&mut self) -> SqlResult<Option<OffsetDateTime>> {
        let i = self.next();
        self.row.opt_date(i)
    }

    /// A nullable boolean (a plugin's column that rows written before it lack).
    pub fn opt_boolean(&mut self) -> SqlResult<Option<bool>> {
        if self.next_is_null()? {
            self.skip(1);
            return Ok(None);
        }
        self.boolean().map(Some)
    }

    /// A nullable integer.
    pub fn opt_int(&mut self) -> SqlResult<Option<i64>> {
        if self.next_is_null()? {
            self.skip(1);
            return Ok(None);
        }
        self.int().map(Some)
    }

    /// Whether the next column is NULL (without reading past it): a LEFT JOIN's missing side.
    pub fn next_is_null(&self) -> SqlResult<bool> {
        self.row.is_null(self.at)
    }

    /// Skips `n` columns (the NULL columns of a LEFT JOIN's missing side).
    pub fn skip(&mut self, n: usize) {
        self.at += n;
    }
}
