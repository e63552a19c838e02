-- The username plugin's user fields (Better Auth's `username` plugin schema) on SQLite. Better
-- Auth itself writes these statements when it adds the plugin to an existing database; the
-- migrator skips an `add column` whose column exists.
alter table "user" add column "username" text;
alter table "user" add column "displayUsername" text;
create unique index if not exists "user_username_uidx" on "user" ("username");
