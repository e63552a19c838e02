-- A session created with rememberMe: false keeps that fact on its row, so its short lifetime
-- does not depend on the `dont_remember` cookie, which a client can simply leave out. Rows
-- Better Auth inserts (it does not know the column) get 0: they rely on the cookie as in
-- Better Auth. Append-only: never edit this file once released.

alter table "session" add column "dontRememberMe" integer not null default 0;
