-- The durable mail outbox (src/mail/outbox/durable.rs): every email an endpoint sends waits
-- here until a delivery worker of any Sesame process on this database has sent it or given up.
-- Times are milliseconds since the epoch. "leaseUntil" is set while a worker holds the row:
-- another worker skips it until then, so a worker that died mid-delivery is taken over once
-- its lease runs out. Sesame's own table (Better Auth has no outbox).
-- Append-only: never edit this file once released.

create table if not exists "sesameMailOutbox" (
  "id" text not null primary key,
  "kind" text not null,
  "security" boolean not null,
  "recipient" text not null,
  "subject" text not null,
  "textBody" text not null,
  "htmlBody" text not null,
  "url" text not null,
  "token" text not null,
  "createdAt" bigint not null,
  "attempts" integer not null default 0,
  "nextAttemptAt" bigint not null,
  "leaseUntil" bigint
);

create index if not exists "sesameMailOutbox_due_idx" on "sesameMailOutbox" ("nextAttemptAt");
