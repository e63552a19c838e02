-- The jwt plugin's "jwks" table, as Better Auth 1.7's migration generator writes it for
-- PostgreSQL, made idempotent: a table an earlier Better Auth created is kept, and gains the
-- columns later versions added (expiresAt, alg, crv). Append-only once released.

create table if not exists "jwks" ("id" text not null primary key, "publicKey" text not null, "privateKey" text not null, "createdAt" timestamptz not null, "expiresAt" timestamptz, "alg" text, "crv" text);

alter table "jwks" add column if not exists "expiresAt" timestamptz;
alter table "jwks" add column if not exists "alg" text;
alter table "jwks" add column if not exists "crv" text;
