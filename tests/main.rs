//! The single integration-test binary. One `mod` per behaviour area; add to an existing file
//! before adding a new one. Helpers live in `support/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod api_basics; // routing, 404/405, body parsing, in-process API
mod api_inprocess; // app.call / call_with_headers / call_as_response, typed wrappers and errors
mod api_password; // change/verify-password, NFKC, no 72-byte truncation, scrypt hashes
mod api_session; // get-session (expiry, sliding refresh, flags), list/revoke sessions, sign-out
mod api_sign_in; // POST /sign-in/email: callbackURL, rememberMe, anti-enumeration, forms
mod api_sign_up; // POST /sign-up/email: answer, cookie, validation, password policy, duplicates
mod api_user; // POST /update-user: fields, errors, order, cookie re-issue
mod app_builder; // App::builder(): configuration in code checked as the environment, opened storage, mail through a function
mod audit_http; // issue 12 over raw sockets: request smuggling (strict framing), the per-address connection cap
mod audit_oauth; // issue 12 over a real socket: additionalData takeover and redirects, pre-account hijacking, look-alike addresses
mod audit_server; // issue 12 over a real socket: pre-hash as password, tokens and forged lines in the log, alias buckets, bearer signatures
mod bad_input; // property-based bad-input battery over every route (proptest)
mod change_email; // change-email and its confirmation / verification links
mod cli; // the binary: --help, secret, SIGTERM
mod cli_user; // `sesame user …` against a running server on SQLite and PostgreSQL
mod conformance; // percent-encoded Location, Connection: close, update-session, BOM, X-Forwarded-For warning
mod conformance_oauth; // social sign-up verification email, account-info profile, refresh-token shape
mod cookies; // signed-cookie format vs a Better Auth fixture, attributes, __Secure- prefix
mod cors; // CORS for trusted origins: preflights, actual answers, refusals, bounds
mod csrf; // Origin/Referer check, Fetch-Metadata, trusted origins, callbackURL rules
mod delete_user; // delete-user and its emailed link
mod deploy; // deploy/: the systemd unit (systemd-analyze verify), its sandboxing
mod email_link_abuse; // replayed approvals, mail floods per recipient, link scanners, inbox oracles, login CSRF
mod email_verification; // send-verification-email, verify-email, sending on sign-up / sign-in
mod flood; // connection floods, slow clients, malformed HTTP over real sockets
mod fuzz_replay; // the fuzz targets' committed corpus through their oracles, on stable
mod hash_pool; // password hashes on their own bounded pool: invalid requests never enter it, 503 when full
mod health; // /ok and /ready on the binary: database, migrations, mail; never rate-limited
mod http_e2e; // over a real socket: Set-Cookie on the wire, keep-alive, 404/405/413/415
mod lifetimes; // reset links after password/email changes, rememberMe rows, per-account password limits
mod logs; // the binary's log: timestamps, SESAME_LOG filter, JSON lines, request span, no secrets
mod mail_outbox; // the durable outbox on SQLite/PostgreSQL: SMTP outage, kill -9, two processes, full queue, give-up
mod mail_smtp_tls; // SMTP over a stripped (no STARTTLS) server: refused unless ?tls=none
mod mail_transports; // webhook (signed) and SMTP (aiosmtpd) delivery over real sockets
mod metrics; // Prometheus metrics scraped from the binary and parsed by prometheus_client: numbers move, gauges follow, README table matches
mod oauth_accounts; // id-token sign-in, link-social, list/unlink accounts, access and refresh tokens
mod oauth_flow; // social sign-in redirect flow against the fake provider: state, callback, linking, errors
mod password_rehash; // SESAME_REHASH_ON_SIGN_IN
mod password_reset; // request-password-reset, forget-password, reset-password link and token
mod pg_faults; // concurrent sign-ups and a database outage on PostgreSQL
mod pg_takeover; // migrations, taking over a Better Auth database (fixture), rehash on sign-in
mod plugin_admin; // the admin plugin: access control, user management, bans, impersonation
mod plugin_anonymous; // the anonymous plugin: guests, their end when they sign in another way, delete-anonymous-user
mod plugin_bearer; // Authorization: Bearer, set-auth-token
mod plugin_email_otp; // email-otp: sign-in, verify-email, check and reset by code; storage, expiry, tries, single use
mod plugin_email_otp_abuse; // email-otp: enumeration, sign-up off, concurrent guesses, mail and rate limits, CSRF, socket, in-process
mod plugin_jwt; // /token, /jwks, set-auth-jwt, key storage
mod plugin_jwt_interop; // Better Auth's jwks rows, PyJWT cross-check, JwksStore contract
mod plugin_magic_link; // the magic-link plugin: emailed sign-in links, sign-up, single use, expiry, hostile callbacks
mod plugin_open_api; // the OpenAPI document and reference page
mod plugin_two_factor; // TOTP set-up, the sign-in challenge, wrong and replayed codes, limits
mod plugin_two_factor_codes; // emailed one-time codes and backup codes: delivery, expiry, tries, single use
mod plugin_two_factor_interop; // a Better Auth twoFactor row, real socket, in-process API, rate limit
mod plugin_username; // username sign-up, sign-in and availability
mod rate_limit;
mod rate_limit_table; // the database table's sweep and cap under a flood of distinct addresses // rate limiting and client-IP resolution
mod secret_file; // the secret kept next to a SQLite file over restarts of the binary; NAME_FILE secrets
mod security; // security headers, error page, open redirects, secrets, logs
mod serve; // App::serve on port 0 next to in-process calls; stop and drop join the threads and close the port
mod session_cache; // the session cache on PostgreSQL: hits, eviction by notifications from any writer, a lost listener, the fill race, the bound
mod sqlite_copy; // `sesame copy-to`: a SQLite database moved into an empty PostgreSQL one
mod sqlite_durability; // the binary on a SQLite file: SIGKILL and restart, the default sesame.db
mod sqlite_takeover; // a Better Auth SQLite file (fixture), stored formats, migrations, locking
mod storage_address; // proving an address (verify_address, a reset): provider accounts dropped, sessions revoked
mod storage_contract; // the Storage trait's contract, on memory, PostgreSQL and SQLite
mod storage_faults; // writes that fail: SQLite on a full disk, PostgreSQL refusing writes
mod storage_token_lifetimes; // reset tokens end with password and email changes, single-use marks, rememberMe rows
mod timing; // measured timing claims: constant-time comparison, the dummy hash of an unknown sign-in
