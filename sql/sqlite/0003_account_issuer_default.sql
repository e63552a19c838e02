-- Keeps a database shared with Better Auth writable by it and keeps account.issuer filled:
-- Better Auth 1.7.25 (the reference server) does not know account.issuer and inserts accounts
-- without it. A row inserted without an issuer gets, in the same statement, the one 0002
-- back-fills. (SQLite triggers cannot change NEW, hence AFTER INSERT and an UPDATE.)
-- Append-only: never edit this file once released.

drop trigger if exists "account_issuer_default";

create trigger "account_issuer_default" after insert on "account"
  for each row when new."issuer" is null
begin
  update "account" set "issuer" = case
      when new."providerId" = 'credential' then 'local:credential'
      when new."providerId" = 'google' then 'https://accounts.google.com'
      when new."providerId" = 'apple' then 'https://appleid.apple.com'
      when new."providerId" = 'facebook' then 'https://www.facebook.com'
      when new."providerId" = 'line' then 'https://access.line.me'
      else 'local:oauth:' || new."providerId"
    end
    where "id" = new."id";
end;
