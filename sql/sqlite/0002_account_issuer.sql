-- Better Auth 1.7's account.issuer (spec §10), added to the table 0001 (or Better Auth 1.7.25)
-- created without it, existing rows back-filled with the issuer 1.7 derives for them (spec §8.1):
-- `local:credential` for the email/password account, the provider's native issuer for the
-- providers that have a fixed one, `local:oauth:<providerId>` for every other provider.
-- Then (issuer, accountId) becomes unique.
--
-- SQLite cannot add a NOT NULL column without a constant default, and a constant cannot derive
-- the issuer, so the column stays nullable; 0003's trigger fills it on every insert that leaves
-- it out, and Sesame always writes it. (The migrator skips an `add column` whose column
-- exists, as in a database from a Better Auth version that has the column.)
-- Append-only: never edit this file once released.

alter table "account" add column "issuer" text;

update "account" set "issuer" = case
    when "providerId" = 'credential' then 'local:credential'
    when "providerId" = 'google' then 'https://accounts.google.com'
    when "providerId" = 'apple' then 'https://appleid.apple.com'
    when "providerId" = 'facebook' then 'https://www.facebook.com'
    when "providerId" = 'line' then 'https://access.line.me'
    else 'local:oauth:' || "providerId"
  end
  where "issuer" is null;

create unique index if not exists "account_issuer_accountId_uidx" on "account" ("issuer", "accountId");
