//! Email address rules: zod 4's `z.email()` pattern and lower-casing for storage and lookup.

/// zod 4's default email check:
/// `^(?!\.)(?!.*\.\.)([A-Za-z0-9_'+\-\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$`.
pub fn is_valid(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    if local.is_empty() || local.starts_with('.') || s.contains("..") {
        return false;
    }
    let local_ok = local.chars().all(|c| c.is_ascii_alphanumeric() || "_'+-.".contains(c))
        && local
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || "_+-".contains(c));
    if !local_ok {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let Some((tld, hosts)) = labels.split_last() else {
        return false;
    };
    if hosts.is_empty() || tld.len() < 2 || !tld.chars().all(|c| c.is_ascii_alphabetic()) {
        return false;
    }
    hosts.iter().all(|l| {
        l.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

/// The stored and looked-up form of an address. Only ASCII letters are folded: valid
/// addresses are ASCII ([`is_valid`]), and Unicode case folding would make look-alikes equal
/// (U+212A KELVIN SIGN lower-cases to `k`).
pub fn normalize(s: &str) -> String {
    s.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zod_email_rules() {
        for ok in [
            "a@b.co",
            "first.last+tag@sub.example.com",
            "o'neil@x-y.org",
            "A_B@EXAMPLE.COM",
        ] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "a@b.c",
            ".a@b.co",
            "a..b@c.co",
            "a.@b.co",
            "a@-b.co",
            "a@b..co",
            "a b@c.co",
            "a@b.c0m",
            "é@b.co",
            "\u{212A}ate@example.com",
            "kate@example.com\r\nbcc: x@evil.test",
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn normalize_folds_ascii_only() {
        assert_eq!(normalize("Kate@Example.COM"), "kate@example.com");
        assert_ne!(normalize("\u{212A}ate@example.com"), "kate@example.com");
    }
}
