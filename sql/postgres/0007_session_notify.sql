-- The session cache's invalidation (storage/session_cache.rs): every change to a session or a
-- user row, whoever makes it (another Sesame process, Better Auth on a shared database, an
-- admin tool, psql), notifies the processes that LISTEN on this schema's channel, so they
-- evict the row. Sessions are named by the SHA-256 of their token, never the token itself:
-- any role that can connect may LISTEN. Inserts notify nothing (nothing cached yet).
-- The function and triggers are created in the schema of the tables; a database without
-- Sesame running is unaffected (a NOTIFY nobody listens to is dropped).
-- Append-only: never edit this file once released.

create or replace function "sesame_cache_notify"() returns trigger
language plpgsql as $$
declare
  channel text := 'sesame_cache_' || md5(TG_TABLE_SCHEMA);
begin
  if TG_TABLE_NAME = 'session' then
    perform pg_notify(channel, 's:' || encode(sha256(convert_to(OLD."token", 'UTF8')), 'hex'));
    if TG_OP = 'UPDATE' and NEW."token" is distinct from OLD."token" then
      perform pg_notify(channel, 's:' || encode(sha256(convert_to(NEW."token", 'UTF8')), 'hex'));
    end if;
  else
    perform pg_notify(channel, 'u:' || OLD."id");
    if TG_OP = 'UPDATE' and NEW."id" is distinct from OLD."id" then
      perform pg_notify(channel, 'u:' || NEW."id");
    end if;
  end if;
  return null;
end
$$;

drop trigger if exists "sesame_session_notify" on "session";
create trigger "sesame_session_notify" after update or delete on "session"
  for each row execute procedure "sesame_cache_notify"();

drop trigger if exists "sesame_user_notify" on "user";
create trigger "sesame_user_notify" after update or delete on "user"
  for each row execute procedure "sesame_cache_notify"();
