//! [`AdminStore`] for both databases. A list's statement depends on which columns and
//! operators it uses, so it is built per query from the closed sets of [`UserField`] and
//! [`Op`] (never from caller text: values are parameters) and interned, so each distinct
//! statement is built once and keeps its prepared form; the number of distinct statements is
//! bounded by those sets.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};

use time::OffsetDateTime;

use super::{columns, users, Backend, Dialect, SqlResult, Value};
use crate::storage::admin::{AdminStore, Condition, Direction, Op, Operand, UserQuery};
use crate::storage::models::{User, UserUpdate};
use crate::storage::StorageResult;

/// A statement's text, kept for the life of the process.
fn intern(sql: String) -> &'static str {
    static SEEN: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Default::default);
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = seen.get(sql.as_str()) {
        return s;
    }
    let leaked: &'static str = Box::leak(sql.into_boxed_str());
    seen.insert(leaked);
    leaked
}

/// The `where` clause of the conditions and its parameters, numbered from `$1`.
fn where_clause<'q>(d: Dialect, conditions: &'q [Condition], params: &mut Vec<Value<'q>>) -> String {
    let mut parts = Vec::new();
    for c in conditions {
        let col = format!("\"{}\"", c.field.name());
        let mut next = |v: &'q Operand| {
            params.push(match v {
                Operand::Text(s) => Value::Text(s),
                Operand::Bool(b) => Value::Bool(*b),
                Operand::Date(t) => Value::Date(*t),
            });
            format!("${}", params.len())
        };
        let part = match c.op {
            Op::In | Op::NotIn => {
                let list: Vec<String> = c.values.iter().map(&mut next).collect();
                let not = if c.op == Op::NotIn { "not " } else { "" };
                format!("{col} {not}in ({})", list.join(", "))
            }
            op => {
                let p = next(&c.values[0]);
                let text = format!("cast({p} as text)");
                match op {
                    Op::Eq => format!("{col} = {p}"),
                    Op::Ne => format!("{col} <> {p}"),
                    Op::Lt => format!("{col} < {p}"),
                    Op::Lte => format!("{col} <= {p}"),
                    Op::Gt => format!("{col} > {p}"),
                    Op::Gte => format!("{col} >= {p}"),
                    // Case-sensitive on both databases (LIKE is not on SQLite), with no
                    // pattern characters to escape.
                    Op::Contains => match d {
                        Dialect::Postgres => format!("strpos({col}, {text}) > 0"),
                        Dialect::Sqlite => format!("instr({col}, {text}) > 0"),
                    },
                    Op::StartsWith => format!("substr({col}, 1, length({text})) = {text}"),
                    // A start before the first character yields at most the whole value,
                    // shorter than the suffix, so never equal on either database.
                    _ => format!("substr({col}, length({col}) - length({text}) + 1) = {text}"),
                }
            }
        };
        parts.push(part);
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("where {}", parts.join(" and "))
    }
}

impl<B: Backend> AdminStore for B {
    fn list_users(&self, query: &UserQuery) -> StorageResult<(Vec<User>, u64)> {
        let d = self.sql().dialect;
        let mut params = Vec::new();
        let filter = where_clause(d, &query.conditions, &mut params);
        let count = intern(d.render(&format!(r#"select count(*) from "user" {filter}"#)));
        let order = match query.sort {
            None => r#"order by "createdAt", "id""#.to_string(),
            Some((field, Direction::Asc)) => {
                format!(r#"order by "{}" asc nulls first, "createdAt", "id""#, field.name())
            }
            Some((field, Direction::Desc)) => {
                format!(r#"order by "{}" desc nulls last, "createdAt", "id""#, field.name())
            }
        };
        let mut page_params = params.clone();
        let mut page = String::new();
        // A limit is needed before an offset on SQLite; -1 is none there, NULL on PostgreSQL.
        if query.limit.is_some() || query.offset.is_some() {
            let limit = query.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
            page_params.push(match (d, limit) {
                (_, Some(l)) => Value::Int(l),
                (Dialect::Sqlite, None) => Value::Int(-1),
                (Dialect::Postgres, None) => Value::Int(i64::MAX),
            });
            page.push_str(&format!(" limit ${}", page_params.len()));
            if let Some(offset) = query.offset {
                page_params.push(Value::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
                page.push_str(&format!(" offset ${}", page_params.len()));
            }
        }
        let select = intern(d.render(&format!(
            r#"select {} from "user" {filter} {order}{page}"#,
            columns("", &users::COLUMNS)
        )));
        self.read(|c| {
            let users = c.all(select, &page_params, users::read)?;
            let total = c.first(count, &params, |c| c.int())?.unwrap_or(0);
            Ok((users, u64::try_from(total).unwrap_or(0)))
        })
    }

    fn create_user(&self, user: &User) -> StorageResult<()> {
        self.write(|c| c.execute(&self.sql().users.insert, &users::values(user)).map(|_| ()))
    }

    fn update_user_ending_sessions(
        &self,
        id: &str,
        update: &UserUpdate,
        now: OffsetDateTime,
    ) -> StorageResult<Option<User>> {
        let sql = self.sql();
        let params = users::update_params(id, update, now);
        let updated = self.transaction(|c| {
            let user = c.first(&sql.users.update, &params, users::read)?;
            if user.is_some() {
                c.execute(&sql.sessions.delete_all_of_user, &[id.into()])?;
            }
            SqlResult::Ok(user)
        });
        super::forget_user(self, id);
        updated
    }
}
