-- When a rate-limit bucket stops mattering (its last counted request plus its window, in
-- milliseconds), so expired rows can be swept within seconds (storage/rate_limit.rs). Rows
-- Better Auth writes leave it null and are swept a day after their last request.
-- Append-only: never edit this file once released.

alter table "rateLimit" add column if not exists "expiresAt" bigint;

create index if not exists "rateLimit_expiresAt_idx" on "rateLimit" ("expiresAt");
