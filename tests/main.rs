//! The single integration-test binary. One `mod` per behaviour area; add to an existing file
//! before adding a new one. Helpers live in `support/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod api_basics; // routing, 404/405, body parsing, in-process API
mod change_email; // change-email and its confirmation / verification links
mod delete_user; // delete-user and its emailed link
mod email_verification; // send-verification-email, verify-email, sending on sign-up / sign-in
mod mail_transports;
mod password_reset; // request-password-reset, forget-password, reset-password link and token // webhook (signed) and SMTP (aiosmtpd) delivery over real sockets
