//! A small tmpfs that can be filled: a real "disk full" under a SQLite database. Mounting needs
//! root (or the capability); when it is impossible, a test skips with a visible message, except
//! under CI (`CI` set), where it fails.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

pub struct SmallDisk {
    pub dir: PathBuf,
    filler: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (e.g. `2m`) on a fresh directory; `None` after a visible
    /// message when that is impossible outside CI.
    pub fn mount(size: &str) -> Option<SmallDisk> {
        let dir = std::env::temp_dir().join(format!("sesame-disk-{}", sesame::crypto::random_string(12)));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output();
        let ok = out.as_ref().is_ok_and(|o| o.status.success());
        if !ok {
            let _ = std::fs::remove_dir(&dir);
            let why = match out {
                Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                Err(e) => e.to_string(),
            };
            if std::env::var_os("CI").is_some() {
                panic!("CI is set but a tmpfs cannot be mounted for the disk-full tests: {why}");
            }
            eprintln!(
                "SKIPPING disk-full test: cannot mount a tmpfs ({why}); run as root or set CI=1 to make this fail"
            );
            return None;
        }
        let filler = dir.join("filler");
        Some(SmallDisk { dir, filler })
    }

    /// A path on the disk.
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }

    /// Writes a filler file until the disk is full (`dd if=/dev/zero` until ENOSPC); a filler
    /// already there is rewritten, taking whatever space was freed since.
    pub fn fill(&self) {
        let _ = std::fs::remove_file(&self.filler);
        let mut f = std::fs::File::create(&self.filler).unwrap();
        let block = vec![0u8; 4096];
        for _ in 0..100_000 {
            match f.write_all(&block) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // Whatever fit in a partial block too.
        let _ = f.write_all(&[0u8; 512]);
        let _ = f.sync_all();
    }

    /// Deletes the filler: the disk has room again.
    pub fn free(&self) {
        let _ = std::fs::remove_file(&self.filler);
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let umount = |lazy: bool| {
            let mut c = Command::new("umount");
            if lazy {
                c.arg("-l");
            }
            c.arg(&self.dir).status().is_ok_and(|s| s.success())
        };
        if !umount(false) {
            umount(true);
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}
