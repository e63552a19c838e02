-- PostgreSQL's session-cache triggers (sql/postgres/0007_session_notify.sql) have no SQLite
-- counterpart: SQLite has no NOTIFY, and Sesame keeps no session cache on SQLite (one process,
-- local storage). This statement does nothing; the file keeps the migration names the same on
-- both databases. Append-only: never edit this file once released.

drop trigger if exists "sesame_session_notify";
