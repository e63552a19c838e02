-- The admin plugin's columns (Better Auth's `admin` plugin schema) on SQLite, as Better Auth's
-- migration generator writes them for better-sqlite3: integer booleans, `date` columns holding
-- ISO-8601 text. The migrator skips an `add column` whose column exists, so a database Better
-- Auth's admin plugin already migrated is taken over as it is.
alter table "user" add column "role" text;
alter table "user" add column "banned" integer;
alter table "user" add column "banReason" text;
alter table "user" add column "banExpires" date;
alter table "session" add column "impersonatedBy" text;
