//! The files in `deploy/`: the systemd unit passes `systemd-analyze verify` without a warning
//! and keeps its sandboxing; the proxy configurations are exercised by `tests/js/run.sh`
//! (nginx and Caddy in front of the binary), and every variable they name is checked by
//! `cli::docs_and_scripts_mention_only_real_variables…`.

use std::process::Command;

use crate::support::binary::{self, tempdir};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn unit() -> String {
    std::fs::read_to_string(format!("{ROOT}/deploy/sesame.service")).unwrap()
}

#[test]
fn systemd_unit_passes_systemd_analyze_verify_cleanly() {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        // Checked where systemd is installed; CI containers may not have it.
        eprintln!("SKIP: systemd-analyze not found, deploy/sesame.service was not verified");
        return;
    }
    // verify checks that ExecStart is executable: point it at the binary under test.
    let dir = tempdir::Dir::new();
    let path = dir.path().join("sesame.service");
    std::fs::write(&path, unit().replace("/usr/local/bin/sesame", binary::BIN)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Unknown or unparsable directives are only warnings to systemd: none may appear.
    let own: Vec<&str> = stderr.lines().filter(|l| l.contains("sesame.service")).collect();
    assert!(own.is_empty(), "{own:#?}");
}

#[test]
fn systemd_unit_keeps_its_sandboxing_and_state_directory() {
    let unit = unit();
    for line in [
        "ExecStart=/usr/local/bin/sesame serve",
        "DynamicUser=yes",
        "StateDirectory=sesame",
        "StateDirectoryMode=0700",
        "Environment=DATABASE_URL=sqlite:/var/lib/sesame/sesame.db",
        "Environment=HOST=127.0.0.1",
        "UMask=0077",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
    ] {
        assert!(unit.lines().any(|l| l == line), "deploy/sesame.service lacks {line}");
    }
}
