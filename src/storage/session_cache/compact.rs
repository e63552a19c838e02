//! How the session cache keeps a row: one byte buffer per session or user, its text fields
//! length-prefixed and its dates as microseconds since the epoch (PostgreSQL's precision: the
//! cache only ever holds rows read from it). A `Session` held as a struct
//! costs its 200-byte struct plus one allocation per string (each rounded up and with its
//! own header); one buffer costs the bytes themselves plus one header, which is what lets
//! 100 000 sessions of 100 000 users fit the default byte bound (BENCHMARKS.md). A hit
//! decodes the buffer into the owned row the caller gets (the clone it would pay anyway).

use time::OffsetDateTime;

use crate::storage::models::{AdminFields, Session, User};

/// A row the cache can keep as bytes.
pub trait Compact: Sized {
    /// Appends the row to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// `None` only if the bytes were not written by [`Compact::encode`].
    fn decode(bytes: &[u8]) -> Option<Self>;
}

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn len(&mut self, mut n: usize) {
        // LEB128: one byte below 128.
        loop {
            let low = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.0.push(low);
                return;
            }
            self.0.push(low | 0x80);
        }
    }
    fn text(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_text(&mut self, s: &Option<String>) {
        match s {
            None => self.0.push(0),
            Some(s) => {
                self.0.push(1);
                self.text(s);
            }
        }
    }
    fn flag(&mut self, b: Option<bool>) {
        self.0.push(match b {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
    }
    fn date(&mut self, t: OffsetDateTime) {
        let micros = i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX);
        self.0.extend_from_slice(&micros.to_le_bytes());
    }
    fn opt_date(&mut self, t: Option<OffsetDateTime>) {
        match t {
            None => self.0.push(0),
            Some(t) => {
                self.0.push(1);
                self.date(t);
            }
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn len(&mut self) -> Option<usize> {
        let mut n = 0usize;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= usize::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }
    fn text(&mut self) -> Option<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn opt_text(&mut self) -> Option<Option<String>> {
        match self.byte()? {
            0 => Some(None),
            _ => self.text().map(Some),
        }
    }
    fn flag(&mut self) -> Option<Option<bool>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(false)),
            _ => Some(Some(true)),
        }
    }
    fn date(&mut self) -> Option<OffsetDateTime> {
        let micros = i64::from_le_bytes(self.take(8)?.try_into().ok()?);
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).ok()
    }
    fn opt_date(&mut self) -> Option<Option<OffsetDateTime>> {
        match self.byte()? {
            0 => Some(None),
            _ => self.date().map(Some),
        }
    }
}

impl Compact for Session {
    fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer(out);
        w.text(&self.id);
        w.text(&self.token);
        w.text(&self.user_id);
        w.date(self.expires_at);
        w.date(self.created_at);
        w.date(self.updated_at);
        w.opt_text(&self.ip_address);
        w.opt_text(&self.user_agent);
        w.flag(Some(self.dont_remember_me));
        w.opt_text(&self.impersonated_by);
    }

    fn decode(bytes: &[u8]) -> Option<Session> {
        let mut r = Reader(bytes);
        Some(Session {
            id: r.text()?,
            token: r.text()?,
            user_id: r.text()?,
            expires_at: r.date()?,
            created_at: r.date()?,
            updated_at: r.date()?,
            ip_address: r.opt_text()?,
            user_agent: r.opt_text()?,
            dont_remember_me: r.flag()? == Some(true),
            impersonated_by: r.opt_text()?,
        })
    }
}

impl Compact for User {
    fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer(out);
        w.text(&self.id);
        w.text(&self.name);
        w.text(&self.email);
        w.flag(Some(self.email_verified));
        w.opt_text(&self.image);
        w.date(self.created_at);
        w.date(self.updated_at);
        w.opt_text(&self.username);
        w.opt_text(&self.display_username);
        w.flag(self.two_factor_enabled);
        w.opt_text(&self.admin.role);
        w.flag(self.admin.banned);
        w.opt_text(&self.admin.ban_reason);
        w.opt_date(self.admin.ban_expires);
        w.flag(Some(self.is_anonymous));
    }

    fn decode(bytes: &[u8]) -> Option<User> {
        let mut r = Reader(bytes);
        Some(User {
            id: r.text()?,
            name: r.text()?,
            email: r.text()?,
            email_verified: r.flag()? == Some(true),
            image: r.opt_text()?,
            created_at: r.date()?,
            updated_at: r.date()?,
            username: r.opt_text()?,
            display_username: r.opt_text()?,
            two_factor_enabled: r.flag()?,
            admin: AdminFields {
                role: r.opt_text()?,
                banned: r.flag()?,
                ban_reason: r.opt_text()?,
                ban_expires: r.opt_date()?,
            },
            is_anonymous: r.flag()? == Some(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn rows_round_trip_with_every_field() {
        let now = datetime!(2026-01-01 12:34:56.789123 UTC);
        let session = Session {
            id: "s".repeat(200),
            token: "t".repeat(32),
            user_id: "u1".into(),
            expires_at: now,
            created_at: datetime!(1969-12-31 23:59:59.5 UTC),
            updated_at: now,
            ip_address: Some(String::new()),
            user_agent: None,
            dont_remember_me: true,
            impersonated_by: Some("admin".into()),
        };
        let encode = |row: &dyn Fn(&mut Vec<u8>)| {
            let mut out = Vec::new();
            row(&mut out);
            out
        };
        assert_eq!(Session::decode(&encode(&|o| session.encode(o))), Some(session.clone()));
        let mut user = User::new("Zoë", "z@example.com", Some("https://i.example/é".into()), now);
        user.two_factor_enabled = Some(false);
        user.is_anonymous = true;
        user.admin = AdminFields {
            role: Some("admin,user".into()),
            banned: Some(true),
            ban_reason: None,
            ban_expires: Some(now),
        };
        assert_eq!(User::decode(&encode(&|o| user.encode(o))), Some(user.clone()));
        let bytes = encode(&|o| user.encode(o));
        assert_eq!(User::decode(&bytes[..bytes.len() - 1]), None, "a cut buffer is refused");
    }
}
