-- The anonymous plugin's user flag (Better Auth's `anonymous` plugin schema: `isAnonymous`,
-- boolean, default false), as Better Auth's migration adds it; `if not exists` takes over a
-- database it already migrated.
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS "isAnonymous" boolean DEFAULT false;
