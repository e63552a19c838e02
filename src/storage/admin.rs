//! The admin plugin's storage area: listing users by a search, a filter and a sort (Better
//! Auth's `listUsers` / `countTotalUsers`), creating a user without an account, and an update
//! that ends the user's sessions in the same transaction (a ban). It lives here, not in the
//! plugin, so that every backend implements it (plugin migrations always run), and the
//! `sesame user` command uses it as the plugin does.

use std::cmp::Ordering;

use time::OffsetDateTime;

use super::StorageResult;
use crate::storage::models::{User, UserUpdate};

/// A user column a list may search, filter or sort by: Better Auth's field names, which are
/// also the column names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserField {
    Id,
    Name,
    Email,
    EmailVerified,
    Image,
    CreatedAt,
    UpdatedAt,
    Username,
    DisplayUsername,
    Role,
    Banned,
    BanReason,
    BanExpires,
}

/// The type of a column, which decides how a filter value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Text,
    Bool,
    Date,
}

impl UserField {
    pub const ALL: [UserField; 13] = [
        UserField::Id,
        UserField::Name,
        UserField::Email,
        UserField::EmailVerified,
        UserField::Image,
        UserField::CreatedAt,
        UserField::UpdatedAt,
        UserField::Username,
        UserField::DisplayUsername,
        UserField::Role,
        UserField::Banned,
        UserField::BanReason,
        UserField::BanExpires,
    ];

    /// Better Auth's field name (and the column's).
    pub fn name(self) -> &'static str {
        match self {
            UserField::Id => "id",
            UserField::Name => "name",
            UserField::Email => "email",
            UserField::EmailVerified => "emailVerified",
            UserField::Image => "image",
            UserField::CreatedAt => "createdAt",
            UserField::UpdatedAt => "updatedAt",
            UserField::Username => "username",
            UserField::DisplayUsername => "displayUsername",
            UserField::Role => "role",
            UserField::Banned => "banned",
            UserField::BanReason => "banReason",
            UserField::BanExpires => "banExpires",
        }
    }

    pub fn from_name(name: &str) -> Option<UserField> {
        UserField::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn kind(self) -> FieldType {
        match self {
            UserField::EmailVerified | UserField::Banned => FieldType::Bool,
            UserField::CreatedAt | UserField::UpdatedAt | UserField::BanExpires => FieldType::Date,
            _ => FieldType::Text,
        }
    }

    /// The user's value of this field (`None` for NULL).
    fn cell(self, u: &User) -> Option<Operand> {
        let text = |s: &Option<String>| s.clone().map(Operand::Text);
        match self {
            UserField::Id => Some(Operand::Text(u.id.clone())),
            UserField::Name => Some(Operand::Text(u.name.clone())),
            UserField::Email => Some(Operand::Text(u.email.clone())),
            UserField::EmailVerified => Some(Operand::Bool(u.email_verified)),
            UserField::Image => text(&u.image),
            UserField::CreatedAt => Some(Operand::Date(u.created_at)),
            UserField::UpdatedAt => Some(Operand::Date(u.updated_at)),
            UserField::Username => text(&u.username),
            UserField::DisplayUsername => text(&u.display_username),
            UserField::Role => text(&u.admin.role),
            UserField::Banned => u.admin.banned.map(Operand::Bool),
            UserField::BanReason => text(&u.admin.ban_reason),
            UserField::BanExpires => u.admin.ban_expires.map(Operand::Date),
        }
    }
}

/// Better Auth's `whereOperators`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
}

impl Op {
    pub const NAMES: [&'static str; 11] = [
        "eq",
        "ne",
        "lt",
        "lte",
        "gt",
        "gte",
        "in",
        "not_in",
        "contains",
        "starts_with",
        "ends_with",
    ];

    pub fn from_name(name: &str) -> Option<Op> {
        const OPS: [Op; 11] = [
            Op::Eq,
            Op::Ne,
            Op::Lt,
            Op::Lte,
            Op::Gt,
            Op::Gte,
            Op::In,
            Op::NotIn,
            Op::Contains,
            Op::StartsWith,
            Op::EndsWith,
        ];
        Op::NAMES.iter().position(|n| *n == name).map(|i| OPS[i])
    }
}

/// A value compared with a column, of the column's type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operand {
    Text(String),
    Bool(bool),
    Date(OffsetDateTime),
}

/// The most values an `in` / `not_in` condition takes (each is a statement parameter).
pub const MAX_IN_VALUES: usize = 100;

/// One condition on a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub field: UserField,
    pub op: Op,
    /// One value, or the list of `in` / `not_in` (at most [`MAX_IN_VALUES`]).
    pub values: Vec<Operand>,
}

impl Condition {
    /// A condition whose values are read as the field's type: `None` when one cannot be (a
    /// date that does not parse, a text operator on a boolean), as Better Auth's adapter then
    /// fails the query.
    pub fn new(field: UserField, op: Op, values: &[serde_json::Value]) -> Option<Condition> {
        let text_op = matches!(op, Op::Contains | Op::StartsWith | Op::EndsWith);
        let many = matches!(op, Op::In | Op::NotIn);
        if (text_op && field.kind() != FieldType::Text)
            || values.is_empty()
            || (!many && values.len() != 1)
            || values.len() > MAX_IN_VALUES
        {
            return None;
        }
        let values = values
            .iter()
            .map(|v| operand(field.kind(), v))
            .collect::<Option<Vec<_>>>()?;
        Some(Condition { field, op, values })
    }

    /// Whether a user matches (SQL's rules: a NULL column matches no operator).
    pub fn matches(&self, u: &User) -> bool {
        let Some(cell) = self.field.cell(u) else {
            return false;
        };
        let first = &self.values[0];
        let text = |f: fn(&str, &str) -> bool| match (&cell, first) {
            (Operand::Text(c), Operand::Text(v)) => f(c, v),
            _ => false,
        };
        match self.op {
            Op::Eq => cell == *first,
            Op::Ne => cell != *first,
            Op::Lt => cell < *first,
            Op::Lte => cell <= *first,
            Op::Gt => cell > *first,
            Op::Gte => cell >= *first,
            Op::In => self.values.contains(&cell),
            Op::NotIn => !self.values.contains(&cell),
            Op::Contains => text(|c, v| c.contains(v)),
            Op::StartsWith => text(|c, v| c.starts_with(v)),
            Op::EndsWith => text(|c, v| c.ends_with(v)),
        }
    }
}

/// A JSON value as an operand of a column type: strings for text (numbers are written as
/// JavaScript would), `true`/`false` (or the strings) for booleans, ISO-8601 dates (or a day,
/// `2026-01-31`) for dates.
fn operand(kind: FieldType, v: &serde_json::Value) -> Option<Operand> {
    use serde_json::Value;
    match (kind, v) {
        (FieldType::Text, Value::String(s)) => Some(Operand::Text(s.clone())),
        (FieldType::Text, Value::Number(n)) => Some(Operand::Text(n.to_string())),
        (FieldType::Text, Value::Bool(b)) => Some(Operand::Text(b.to_string())),
        (FieldType::Bool, Value::Bool(b)) => Some(Operand::Bool(*b)),
        (FieldType::Bool, Value::String(s)) => match s.as_str() {
            "true" => Some(Operand::Bool(true)),
            "false" => Some(Operand::Bool(false)),
            _ => None,
        },
        (FieldType::Date, Value::String(s)) => parse_date(s).map(Operand::Date),
        _ => None,
    }
}

/// An ISO-8601 instant, or a calendar day (midnight UTC), as JavaScript's `new Date` reads
/// them.
pub fn parse_date(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let day = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &day).ok().map(|d| d.midnight().assume_utc())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// What `listUsers` asks: conditions (all must hold), an order, and a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    pub conditions: Vec<Condition>,
    /// Without one, the order of creation.
    pub sort: Option<(UserField, Direction)>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

impl UserQuery {
    pub fn matches(&self, u: &User) -> bool {
        self.conditions.iter().all(|c| c.matches(u))
    }

    /// The query's order (then creation, then id, so that pages are stable); NULLs first
    /// ascending, as both databases sort them here (`nulls first` / `nulls last`).
    pub fn compare(&self, a: &User, b: &User) -> Ordering {
        let by_creation = a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id));
        match self.sort {
            None => by_creation,
            Some((field, dir)) => {
                let o = field.cell(a).cmp(&field.cell(b));
                let o = if dir == Direction::Desc { o.reverse() } else { o };
                o.then(by_creation)
            }
        }
    }

    /// The page of an ordered list.
    pub fn page(&self, users: Vec<User>) -> Vec<User> {
        let offset = usize::try_from(self.offset.unwrap_or(0)).unwrap_or(usize::MAX);
        let limit = self
            .limit
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        users.into_iter().skip(offset).take(limit).collect()
    }
}

pub trait AdminStore {
    /// The page of users the query selects, and how many users match it in all.
    fn list_users(&self, query: &UserQuery) -> StorageResult<(Vec<User>, u64)>;
    /// Inserts a user without any account (no password: magic link or social sign-in only).
    /// `Conflict("user.email")` if the email is taken.
    fn create_user(&self, user: &User) -> StorageResult<()>;
    /// Applies the update, then deletes every session of the user, in one transaction (a ban:
    /// no session outlives it). `None` if there is no such user.
    fn update_user_ending_sessions(
        &self,
        id: &str,
        update: &UserUpdate,
        now: OffsetDateTime,
    ) -> StorageResult<Option<User>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_read_values_as_the_column_type() {
        let c = Condition::new(UserField::Banned, Op::Eq, &[json!("true")]).unwrap();
        assert_eq!(c.values, vec![Operand::Bool(true)]);
        assert!(Condition::new(UserField::Banned, Op::Eq, &[json!("yes")]).is_none());
        assert!(Condition::new(UserField::Banned, Op::Contains, &[json!("t")]).is_none());
        assert!(Condition::new(UserField::CreatedAt, Op::Gt, &[json!("2026-01-01")]).is_some());
        assert!(Condition::new(UserField::CreatedAt, Op::Gt, &[json!("soon")]).is_none());
        assert!(Condition::new(UserField::Email, Op::Eq, &[json!("a"), json!("b")]).is_none());
        let many: Vec<_> = (0..=MAX_IN_VALUES).map(|i| json!(i.to_string())).collect();
        assert!(Condition::new(UserField::Id, Op::In, &many).is_none());
        assert_eq!(UserField::from_name("banExpires"), Some(UserField::BanExpires));
        assert_eq!(Op::from_name("not_in"), Some(Op::NotIn));
    }
}
