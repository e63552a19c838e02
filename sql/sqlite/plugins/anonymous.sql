-- The anonymous plugin's user flag (Better Auth's `anonymous` plugin schema) on SQLite, as
-- Better Auth's migration generator writes it for better-sqlite3: an integer boolean, default 0.
-- The migrator skips an `add column` whose column exists.
alter table "user" add column "isAnonymous" integer default 0;
