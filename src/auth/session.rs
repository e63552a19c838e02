//! Session lifetime rules (spec §4.4–4.6), pure functions of the row, the config and `now`.

use time::{Duration, OffsetDateTime};

use crate::config::Config;
use crate::crypto;
use crate::storage::models::Session;

/// A rememberMe=false session lives one day, whatever `expiresIn` says, and never slides. The
/// row says so (`dont_remember_me`), so leaving out the `dont_remember` cookie changes nothing.
pub const DONT_REMEMBER_LIFETIME: i64 = 86_400;

/// A new session row for the user.
pub fn new_session(
    user_id: &str,
    now: OffsetDateTime,
    config: &Config,
    remember: bool,
    ip: String,
    user_agent: String,
) -> Session {
    let lifetime = if remember {
        config.session_expires_in
    } else {
        DONT_REMEMBER_LIFETIME
    };
    Session {
        id: crypto::new_id(),
        token: crypto::new_id(),
        user_id: user_id.to_string(),
        expires_at: now + Duration::seconds(lifetime),
        created_at: now,
        updated_at: now,
        ip_address: Some(ip),
        user_agent: Some(user_agent),
        dont_remember_me: !remember,
        impersonated_by: None,
    }
}

/// Better Auth's test is `expiresAt < now`: a session is still valid at its expiry instant.
pub fn is_expired(session: &Session, now: OffsetDateTime) -> bool {
    session.expires_at < now
}

/// Better Auth's sliding rule: refresh once `updateAge` has passed since the expiry was last
/// set, i.e. `expiresAt - expiresIn + updateAge <= now`.
pub fn needs_refresh(session: &Session, now: OffsetDateTime, config: &Config) -> bool {
    session.expires_at - Duration::seconds(config.session_expires_in) + Duration::seconds(config.session_update_age)
        <= now
}

/// Fresh-only endpoints need a session created less than `freshAge` ago; 0 disables it.
pub fn is_fresh(session: &Session, now: OffsetDateTime, fresh_age: i64) -> bool {
    fresh_age == 0 || now - session.created_at < Duration::seconds(fresh_age)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn lifetimes() {
        let config = Config::for_tests();
        let now = datetime!(2026-01-01 0:00 UTC);
        let s = new_session("u", now, &config, true, String::new(), String::new());
        assert_eq!(s.expires_at, now + Duration::days(7));
        assert!(!needs_refresh(&s, now + Duration::hours(23), &config));
        assert!(needs_refresh(&s, now + Duration::days(1), &config));
        assert!(is_fresh(&s, now + Duration::hours(23), 86_400));
        assert!(!is_fresh(&s, now + Duration::days(1), 86_400));
        assert!(is_fresh(&s, now + Duration::days(3), 0));
        let short = new_session("u", now, &config, false, String::new(), String::new());
        assert_eq!(short.expires_at, now + Duration::days(1));
        assert!(!is_expired(&short, now + Duration::days(1)));
        assert!(is_expired(&short, now + Duration::days(1) + Duration::milliseconds(1)));
    }
}
