-- Keeps a database shared with Better Auth writable by it: Better Auth 1.7.25 (the reference
-- server) does not know account.issuer and inserts accounts without it, which the NOT NULL
-- column from 0002 would refuse. A row inserted without an issuer gets the one 0002 back-fills.
-- Append-only: never edit this file once released.

create or replace function "sesame_account_issuer_default"() returns trigger language plpgsql as $fn$
begin
  if new."issuer" is null then
    new."issuer" := case
      when new."providerId" = 'credential' then 'local:credential'
      when new."providerId" = 'google' then 'https://accounts.google.com'
      when new."providerId" = 'apple' then 'https://appleid.apple.com'
      when new."providerId" = 'facebook' then 'https://www.facebook.com'
      when new."providerId" = 'line' then 'https://access.line.me'
      else 'local:oauth:' || new."providerId"
    end;
  end if;
  return new;
end
$fn$;

drop trigger if exists "account_issuer_default" on "account";
create trigger "account_issuer_default" before insert on "account"
  for each row execute function "sesame_account_issuer_default"();
