-- The admin plugin's columns (Better Auth's `admin` plugin schema), as Better Auth's own
-- migration adds them; `if not exists` takes over a database it already migrated.
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS "role" text;
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS "banned" boolean;
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS "banReason" text;
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS "banExpires" timestamptz;
ALTER TABLE "session" ADD COLUMN IF NOT EXISTS "impersonatedBy" text;
