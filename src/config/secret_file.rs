//! The secret kept with the data. Without `BETTER_AUTH_SECRET`, a zero-configuration start on a
//! SQLite file would sign with a fresh random key each time while the sessions it signed stay
//! in the database: every restart would sign everyone out. So the first start generates a
//! secret and keeps it next to the database, in `<database file>.secret`, readable by its owner
//! only; later starts read it. An explicit secret always wins, and memory storage (whose
//! sessions die with the process anyway) keeps a per-process secret.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::{Config, Secret, StorageUrl};

/// Where the secret came from, for the start-up line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// Generated now and written to this file.
    Created(PathBuf),
    /// Read from this file, written by an earlier start.
    Read(PathBuf),
}

impl std::fmt::Display for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kept::Created(p) => write!(f, "{} (created now)", p.display()),
            Kept::Read(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The file that holds the generated secret of a SQLite database: `<path>.secret`.
pub fn path_for(database: &str) -> PathBuf {
    PathBuf::from(format!("{database}.secret"))
}

/// Replaces a per-process secret with the one kept next to a SQLite database file (creating
/// it on first use). `None` when there is nothing to do: an explicit secret, or no file
/// storage.
pub fn settle(config: &mut Config) -> anyhow::Result<Option<Kept>> {
    if !config.secret_is_ephemeral {
        return Ok(None);
    }
    let StorageUrl::Sqlite(database) = &config.storage else {
        return Ok(None);
    };
    if database == ":memory:" {
        return Ok(None);
    }
    let path = path_for(database);
    let (secret, kept) = load_or_create(&path)?;
    config.secret = Secret::new(secret);
    config.secret_is_ephemeral = false;
    config.secret_file = Some(path);
    Ok(Some(kept))
}

/// Reads the secret in `path`, or creates the file with a new secret. Creation is atomic and
/// never replaces a file: a temporary file is written and synced, then hard-linked to `path`,
/// so two processes starting at once agree on one secret and a crash leaves no half-written one.
pub fn load_or_create(path: &Path) -> anyhow::Result<(String, Kept)> {
    if path.exists() {
        return Ok((read(path)?, Kept::Read(path.to_path_buf())));
    }
    let secret = crate::crypto::random_string(64);
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("secret"),
        crate::crypto::random_string(8)
    ));
    let written = write_private(&tmp, &secret).and_then(|()| match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot create the secret file {}", path.display())),
    });
    let _ = std::fs::remove_file(&tmp);
    if written? {
        Ok((secret, Kept::Created(path.to_path_buf())))
    } else {
        // Another process created it first: use theirs.
        Ok((read(path)?, Kept::Read(path.to_path_buf())))
    }
}

fn write_private(path: &Path, secret: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create the secret file {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(())
}

/// Reads a kept secret, refusing a file others may read (they could forge sessions with it)
/// and one too short to be a secret.
fn read(path: &Path) -> anyhow::Result<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("cannot read the secret file {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "the secret file {} can be read by other users (mode {:o}): `chmod 600` it, or it may already have leaked",
                path.display(),
                mode & 0o777
            );
        }
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the secret file {}", path.display()))?;
    let secret = text.trim().to_string();
    if secret.chars().count() < super::cookies::MIN_SECRET_CHARS {
        bail!(
            "the secret file {} holds fewer than {} characters",
            path.display(),
            super::cookies::MIN_SECRET_CHARS
        );
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sesame-secret-{}", crate::crypto::random_string(12)));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn created_once_then_read_back_owner_only() {
        let dir = temp_dir();
        let path = dir.join("auth.db.secret");
        let (first, kept) = load_or_create(&path).unwrap();
        assert_eq!(kept, Kept::Created(path.clone()));
        assert_eq!(first.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, kept) = load_or_create(&path).unwrap();
        assert_eq!((again, kept), (first, Kept::Read(path.clone())));
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_readable_or_short_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir();
        let path = dir.join("x.secret");
        std::fs::write(&path, "a".repeat(40)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = format!("{:#}", load_or_create(&path).unwrap_err());
        assert!(err.contains("chmod 600"), "{err}");
        assert!(!err.contains(&"a".repeat(40)), "the secret is never in a message");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(load_or_create(&path).unwrap().0, "a".repeat(40));
        std::fs::write(&path, "short\n").unwrap();
        let err = format!("{:#}", load_or_create(&path).unwrap_err());
        assert!(err.contains("fewer than 32"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn only_an_unset_secret_on_a_sqlite_file_is_settled() {
        let dir = temp_dir();
        let db = dir.join("s.db").display().to_string();
        let mut c = Config::for_tests();
        c.storage = StorageUrl::Sqlite(db.clone());
        // An explicit secret wins.
        assert_eq!(settle(&mut c).unwrap(), None);
        assert_eq!(c.secret.expose(), super::super::cookies::TEST_SECRET);
        c.secret_is_ephemeral = true;
        let kept = settle(&mut c).unwrap().unwrap();
        assert_eq!(kept, Kept::Created(path_for(&db)));
        assert!(!c.secret_is_ephemeral);
        assert_eq!(c.secret_file, Some(path_for(&db)));
        let mut memory = Config::for_tests();
        memory.secret_is_ephemeral = true;
        assert_eq!(settle(&mut memory).unwrap(), None);
        memory.storage = StorageUrl::Sqlite(":memory:".into());
        assert_eq!(settle(&mut memory).unwrap(), None);
        assert!(memory.secret_is_ephemeral);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
