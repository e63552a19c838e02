//! The durable mail queue (`"sesameMailOutbox"`, see `storage/mail_queue.rs`) for both
//! databases. The claim is one statement: on PostgreSQL its row choice is `FOR UPDATE SKIP
//! LOCKED`, so concurrent claims from several processes each take other rows and never wait;
//! SQLite runs it inside `BEGIN IMMEDIATE`, which already admits one writer at a time.

use super::{columns, Backend, Cols, Dialect, SqlResult};
use crate::storage::mail_queue::{MailQueueStore, QueuedMail};
use crate::storage::StorageResult;

const TABLE: &str = "sesameMailOutbox";

pub const COLUMNS: [&str; 11] = [
    "id",
    "kind",
    "security",
    "recipient",
    "subject",
    "textBody",
    "htmlBody",
    "url",
    "token",
    "createdAt",
    "attempts",
];

pub struct MailQueueSql {
    pub enqueue: String,
    pub claim: String,
    pub finish: String,
    pub retry: String,
    pub count: String,
}

impl MailQueueSql {
    pub(super) fn new(d: Dialect) -> MailQueueSql {
        let lock = match d {
            Dialect::Postgres => " for update skip locked",
            Dialect::Sqlite => "",
        };
        MailQueueSql {
            // $1..$9 the text and flag columns, $10 now (ms), $11 the capacity. The count and
            // the insert are one statement, so a full queue never takes one more.
            enqueue: d.render(&format!(
                r#"insert into "{TABLE}" ({}, "nextAttemptAt")
select cast($1 as text), cast($2 as text), cast($3 as boolean), cast($4 as text), cast($5 as text),
  cast($6 as text), cast($7 as text), cast($8 as text), cast($9 as text), cast($10 as bigint), 0,
  cast($10 as bigint)
where (select count(*) from "{TABLE}") < cast($11 as bigint)"#,
                columns("", &COLUMNS)
            )),
            // $1 now, $2 lease end, $3 how many.
            claim: d.render(&format!(
                r#"update "{TABLE}" set "leaseUntil" = $2, "attempts" = "attempts" + 1
where "id" in (select "id" from "{TABLE}"
  where "nextAttemptAt" <= $1 and ("leaseUntil" is null or "leaseUntil" <= $1)
  order by "security" desc, "nextAttemptAt" limit $3{lock})
returning {}"#,
                columns("", &COLUMNS)
            )),
            finish: d.render(&format!(r#"delete from "{TABLE}" where "id" = $1"#)),
            retry: d.render(&format!(
                r#"update "{TABLE}" set "leaseUntil" = null, "nextAttemptAt" = $2 where "id" = $1"#
            )),
            count: d.render(&format!(r#"select count(*) from "{TABLE}""#)),
        }
    }
}

pub fn read(c: &mut Cols<'_>) -> SqlResult<QueuedMail> {
    Ok(QueuedMail {
        id: c.text()?,
        kind: c.text()?,
        security: c.boolean()?,
        recipient: c.text()?,
        subject: c.text()?,
        text: c.text()?,
        html: c.text()?,
        url: c.text()?,
        token: c.text()?,
        created_at: c.int()?,
        attempts: c.int()?,
    })
}

impl<B: Backend> MailQueueStore for B {
    fn enqueue_mail(&self, m: &QueuedMail, now_ms: i64, capacity: u64) -> StorageResult<bool> {
        let sql = &self.sql().mail_queue;
        let capacity = i64::try_from(capacity).unwrap_or(i64::MAX);
        let params = [
            m.id.as_str().into(),
            m.kind.as_str().into(),
            m.security.into(),
            m.recipient.as_str().into(),
            m.subject.as_str().into(),
            m.text.as_str().into(),
            m.html.as_str().into(),
            m.url.as_str().into(),
            m.token.as_str().into(),
            now_ms.into(),
            capacity.into(),
        ];
        Ok(self.write(|c| c.execute(&sql.enqueue, &params))? == 1)
    }

    fn claim_mail(&self, now_ms: i64, lease_until_ms: i64, limit: u32) -> StorageResult<Vec<QueuedMail>> {
        let sql = &self.sql().mail_queue;
        let params = [now_ms.into(), lease_until_ms.into(), i64::from(limit).into()];
        self.transaction(|c| c.all(&sql.claim, &params, read))
    }

    fn finish_mail(&self, id: &str) -> StorageResult<()> {
        let sql = &self.sql().mail_queue;
        self.write(|c| c.execute(&sql.finish, &[id.into()]))?;
        Ok(())
    }

    fn retry_mail(&self, id: &str, next_attempt_ms: i64) -> StorageResult<()> {
        let sql = &self.sql().mail_queue;
        self.write(|c| c.execute(&sql.retry, &[id.into(), next_attempt_ms.into()]))?;
        Ok(())
    }

    fn busy(&self) -> bool {
        self.pool_exhausted()
    }

    fn queued_mail(&self) -> StorageResult<u64> {
        let sql = &self.sql().mail_queue;
        let n = self.read(|c| c.first(&sql.count, &[], |c| c.int()))?.unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
