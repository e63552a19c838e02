-- The two-factor plugin's schema (Better Auth 1.7's `twoFactor` plugin) on SQLite, as Better
-- Auth's migration generator writes it for better-sqlite3 (booleans as integers, dates as
-- ISO-8601 text), made idempotent: the migrator skips an `add column` whose column exists.
-- Append-only once released.

alter table "user" add column "twoFactorEnabled" integer;

create table if not exists "twoFactor" ("id" text not null primary key, "secret" text not null, "backupCodes" text not null, "userId" text not null references "user" ("id") on delete cascade, "verified" integer, "failedVerificationCount" integer, "lockedUntil" date);

alter table "twoFactor" add column "verified" integer;
alter table "twoFactor" add column "failedVerificationCount" integer;
alter table "twoFactor" add column "lockedUntil" date;

create index if not exists "twoFactor_secret_idx" on "twoFactor" ("secret");
create index if not exists "twoFactor_userId_idx" on "twoFactor" ("userId");
