//! Backup codes: ten single-use codes of ten letters and digits, shown as `xxxxx-xxxxx`
//! (Better Auth's defaults), stored together as an encrypted JSON array.

/// Codes per set.
const AMOUNT: usize = 10;

/// A new set of backup codes.
pub fn generate() -> Vec<String> {
    (0..AMOUNT)
        .map(|_| {
            let code =
                crate::crypto::random_from(b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 10);
            format!("{}-{}", &code[..5], &code[5..])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ten_distinct_codes_in_better_auths_shape() {
        let codes = super::generate();
        assert_eq!(codes.len(), 10);
        for c in &codes {
            assert_eq!(c.len(), 11);
            assert_eq!(&c[5..6], "-");
            assert!(c.chars().filter(|&ch| ch != '-').all(|ch| ch.is_ascii_alphanumeric()));
        }
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), 10);
    }
}
