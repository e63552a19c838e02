-- The jwt plugin's "jwks" table on SQLite, as Better Auth 1.7.25's migration generator writes it
-- for better-sqlite3 (dates as ISO-8601 text in `date` columns), made idempotent: a table an
-- earlier Better Auth created is kept and gains the columns later versions added (the migrator
-- skips an `add column` whose column exists). Append-only once released.

create table if not exists "jwks" ("id" text not null primary key, "publicKey" text not null, "privateKey" text not null, "createdAt" date not null, "expiresAt" date, "alg" text, "crv" text);

alter table "jwks" add column "expiresAt" date;
alter table "jwks" add column "alg" text;
alter table "jwks" add column "crv" text;
