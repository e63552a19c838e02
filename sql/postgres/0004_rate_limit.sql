-- Rate-limit buckets shared by every Sesame process (SESAME_RATE_LIMIT_STORAGE=database), in
-- Better Auth's "rateLimit" table layout, so a database Better Auth already uses keeps working.
-- "lastRequest" is in milliseconds since the epoch. Append-only: never edit this file once released.

create table if not exists "rateLimit" (
  "id" text not null primary key,
  "key" text not null unique,
  "count" integer not null,
  "lastRequest" bigint not null
);

create index if not exists "rateLimit_lastRequest_idx" on "rateLimit" ("lastRequest");
