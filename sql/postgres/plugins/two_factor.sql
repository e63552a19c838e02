-- The two-factor plugin's schema (Better Auth 1.7's `twoFactor` plugin) on PostgreSQL, as Better
-- Auth's migration generator writes it (no column defaults: Better Auth writes every value),
-- made idempotent: a table an earlier Better Auth created is kept and gains the columns later
-- versions added. Append-only once released.

alter table "user" add column if not exists "twoFactorEnabled" boolean;

create table if not exists "twoFactor" ("id" text not null primary key, "secret" text not null, "backupCodes" text not null, "userId" text not null references "user" ("id") on delete cascade, "verified" boolean, "failedVerificationCount" integer, "lockedUntil" timestamptz);

alter table "twoFactor" add column if not exists "verified" boolean;
alter table "twoFactor" add column if not exists "failedVerificationCount" integer;
alter table "twoFactor" add column if not exists "lockedUntil" timestamptz;

create index if not exists "twoFactor_secret_idx" on "twoFactor" ("secret");
create index if not exists "twoFactor_userId_idx" on "twoFactor" ("userId");
