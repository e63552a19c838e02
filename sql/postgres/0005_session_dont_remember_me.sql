-- A session created with rememberMe: false keeps that fact on its row, so its short lifetime
-- does not depend on the `dont_remember` cookie, which a client can simply leave out. Rows
-- Better Auth inserts (it does not know the column) get false: they rely on the cookie as in
-- Better Auth. Append-only: never edit this file once released.

alter table "session" add column if not exists "dontRememberMe" boolean not null default false;
