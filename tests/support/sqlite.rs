//! SQLite for tests: each test gets its own database file in the system temp directory,
//! deleted (with its `-wal` and `-shm` files) when the [`SqliteFile`] is dropped. Always
//! available: no server is needed.

use std::path::{Path, PathBuf};

use sesame::storage::sqlite::{SqliteOptions, SqliteStorage};

/// A fresh temp-file path, removed on `Drop`.
pub struct SqliteFile {
    pub path: PathBuf,
}

impl SqliteFile {
    /// A path in a fresh temp directory (nothing is created there yet).
    pub fn new() -> SqliteFile {
        let dir = std::env::temp_dir().join(format!("sesame-test-{}", sesame::crypto::random_string(16)));
        std::fs::create_dir_all(&dir).expect("create the test database's directory");
        SqliteFile {
            path: dir.join("test.db"),
        }
    }

    /// A copy of `fixture` (a database file) to work on.
    pub fn copy_of(fixture: &Path) -> SqliteFile {
        let f = SqliteFile::new();
        std::fs::copy(fixture, &f.path).expect("copy the fixture database");
        f
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().expect("temp paths are UTF-8")
    }

    /// `DATABASE_URL` for this file.
    pub fn url(&self) -> String {
        format!("sqlite:{}", self.path_str())
    }

    /// A plain connection (for loading fixtures and inspecting rows).
    pub fn conn(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(&self.path).expect("open the test database");
        c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
        c
    }

    /// A migrated storage on this file.
    pub fn storage(&self, options: &SqliteOptions) -> SqliteStorage {
        let storage = SqliteStorage::open(self.path_str(), options).expect("database opens");
        storage.migrate(&sesame::app::migrations()).expect("migrations apply");
        storage
    }
}

impl Drop for SqliteFile {
    fn drop(&mut self) {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Settings for tests: a few readers, a generous busy timeout (a loaded 2-core machine).
pub fn test_options() -> SqliteOptions {
    SqliteOptions {
        readers: 4,
        checkout_timeout: std::time::Duration::from_secs(15),
        busy_timeout: std::time::Duration::from_secs(15),
    }
}
