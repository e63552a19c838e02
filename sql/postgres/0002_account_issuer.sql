-- Better Auth 1.7's account.issuer (spec §10): added where an older Better Auth created the
-- table without it, existing rows back-filled with the issuer 1.7 derives for them (spec §8.1):
-- `local:credential` for the email/password account, the provider's native issuer for the
-- providers that have a fixed one, `local:oauth:<providerId>` for every other provider.
-- Then (issuer, accountId) becomes unique. The column stays nullable (unlike the spec's 1.7.1
-- DDL): Better Auth 1.7.25 does not know it and refuses to start on a database with a required
-- column it never writes. Sesame always writes it, and 0003 fills it on Better Auth's inserts.
-- Append-only: never edit this file once released.

alter table "account" add column if not exists "issuer" text;

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
