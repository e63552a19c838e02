-- The username plugin's user fields (Better Auth's `username` plugin schema).
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS "username" text;
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS "displayUsername" text;
CREATE UNIQUE INDEX IF NOT EXISTS "user_username_uidx" ON "user" ("username");
