#![allow(clippy::expect_used, clippy::unwrap_used)]

//! The binary from outside: exit codes and one-line errors for bad configuration, the
//! maintenance subcommands, and a real start answering /readyz.

use std::process::{Command, Stdio};

const KEY: &str = "7d3f0a9e1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6";
const JWT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

fn spotter() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spotter"));
    // A clean environment: nothing from the developer's shell leaks in.
    c.env_clear();
    c.env("PATH", std::env::var("PATH").unwrap_or_default());
    c.env("SPOTTER_NAVIDROME_BASE_URL", "http://127.0.0.1:4533");
    c.current_dir(std::env::temp_dir());
    c
}

fn run(c: &mut Command) -> (i32, String, String) {
    let out = c.output().expect("run the spotter binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn missing_short_malformed_or_placeholder_secrets_refuse_to_start() {
    let zeros = "0".repeat(64);
    let cases: Vec<(Option<&str>, Option<&str>, &str)> = vec![
        (None, Some(JWT), "SPOTTER_SECURITY_ENCRYPTION_KEY"),
        (Some(KEY), None, "SPOTTER_SECURITY_JWT_SECRET"),
        (Some("abcd"), Some(JWT), "SPOTTER_SECURITY_ENCRYPTION_KEY"),
        (
            Some(&KEY[..63]),
            Some(JWT),
            "SPOTTER_SECURITY_ENCRYPTION_KEY",
        ),
        (
            Some("zz3f0a9e1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6"),
            Some(JWT),
            "SPOTTER_SECURITY_ENCRYPTION_KEY",
        ),
        (Some(KEY), Some("too-short"), "SPOTTER_SECURITY_JWT_SECRET"),
        (
            Some(zeros.as_str()),
            Some(JWT),
            "SPOTTER_SECURITY_ENCRYPTION_KEY",
        ),
        (
            Some(KEY),
            Some("changeme-changeme-changeme-changeme-changeme"),
            "SPOTTER_SECURITY_JWT_SECRET",
        ),
        (
            Some("replace-with-64-hex-chars-from-openssl-rand-hex-32"),
            Some(JWT),
            "SPOTTER_SECURITY_ENCRYPTION_KEY",
        ),
    ];
    for (key, jwt, var) in cases {
        for sub in [None, Some("check-config")] {
            let mut c = spotter();
            if let Some(s) = sub {
                c.arg(s);
            }
            if let Some(k) = key {
                c.env("SPOTTER_SECURITY_ENCRYPTION_KEY", k);
            }
            if let Some(j) = jwt {
                c.env("SPOTTER_SECURITY_JWT_SECRET", j);
            }
            let (code, stdout, stderr) = run(&mut c);
            assert_ne!(code, 0, "{key:?}/{jwt:?} accepted");
            let line = stderr
                .lines()
                .find(|l| l.contains(var))
                .unwrap_or_else(|| panic!("no line naming {var}: {stderr}"));
            assert!(line.starts_with("config error: "), "{line}");
            assert!(stdout.is_empty(), "nothing printed on stdout: {stdout}");
            for secret in [KEY, JWT] {
                assert!(!stderr.contains(secret), "secret echoed in the error");
            }
        }
    }
}

#[test]
fn check_config_masks_secrets() {
    let (code, stdout, _) = run(spotter()
        .arg("check-config")
        .env("SPOTTER_SECURITY_ENCRYPTION_KEY", KEY)
        .env("SPOTTER_SECURITY_JWT_SECRET", JWT));
    assert_eq!(code, 0);
    assert!(stdout.contains("SPOTTER_SECURITY_ENCRYPTION_KEY=[set]"));
    assert!(stdout.contains("SPOTTER_NAVIDROME_BASE_URL=http://127.0.0.1:4533/"));
    assert!(!stdout.contains(KEY) && !stdout.contains(JWT));
}

#[test]
fn secrets_from_files_and_both_set_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let (code, _, stderr) = run(spotter()
        .arg("check-config")
        .env("SPOTTER_SECURITY_ENCRYPTION_KEY_FILE", &key_file)
        .env("SPOTTER_SECURITY_JWT_SECRET", JWT));
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(spotter()
        .arg("check-config")
        .env("SPOTTER_SECURITY_ENCRYPTION_KEY_FILE", &key_file)
        .env("SPOTTER_SECURITY_ENCRYPTION_KEY", KEY)
        .env("SPOTTER_SECURITY_JWT_SECRET", JWT));
    assert_ne!(code, 0);
    assert!(
        stderr.contains("SPOTTER_SECURITY_ENCRYPTION_KEY_FILE"),
        "{stderr}"
    );
    let (code, _, stderr) = run(spotter()
        .arg("check-config")
        .env(
            "SPOTTER_SECURITY_ENCRYPTION_KEY_FILE",
            dir.path().join("missing"),
        )
        .env("SPOTTER_SECURITY_JWT_SECRET", JWT));
    assert_ne!(code, 0);
    assert!(
        stderr.contains("SPOTTER_SECURITY_ENCRYPTION_KEY_FILE"),
        "{stderr}"
    );
}

#[test]
fn gen_secrets_prints_a_valid_env_block() {
    let (code, stdout, _) = run(spotter().arg("gen-secrets"));
    assert_eq!(code, 0);
    let mut c = spotter();
    c.arg("check-config");
    for line in stdout.lines().filter(|l| l.starts_with("SPOTTER_")) {
        let (k, v) = line.split_once('=').unwrap();
        c.env(k, v);
    }
    let (code, _, stderr) = run(&mut c);
    assert_eq!(code, 0, "{stderr}");
    let (_, again, _) = run(spotter().arg("gen-secrets"));
    assert_ne!(stdout, again, "secrets must be fresh each time");
}

#[test]
fn clear_credentials_needs_confirmation() {
    let (code, _, stderr) = run(spotter().arg("clear-credentials"));
    assert_ne!(code, 0);
    assert!(stderr.contains("--yes"));
}

#[test]
fn server_starts_answers_readyz_and_healthcheck_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = spotter()
        .env("SPOTTER_SECURITY_ENCRYPTION_KEY", KEY)
        .env("SPOTTER_SECURITY_JWT_SECRET", JWT)
        .env("SPOTTER_SERVER_HOST", "127.0.0.1")
        .env("SPOTTER_SERVER_PORT", port.to_string())
        .env("SPOTTER_DATABASE_SOURCE", dir.path().join("spotter.db"))
        .env("SPOTTER_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the "listening" log line (the listener is bound before it is written).
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("spotter listening"));
    assert!(listening, "the server never logged that it is listening");
    let ready = {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).unwrap();
        buf.starts_with("HTTP/1.1 200") && buf.ends_with("ready\n")
    };
    let (hc, _, hc_err) = run(spotter()
        .arg("healthcheck")
        .env("SPOTTER_SERVER_HOST", "127.0.0.1")
        .env("SPOTTER_SERVER_PORT", port.to_string()));
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    assert!(ready, "/readyz did not answer ready");
    assert_eq!(hc, 0, "healthcheck: {hc_err}");
    assert!(status.success(), "graceful shutdown exit: {status:?}");
    // Nothing listens now: the health check fails.
    let (hc, _, _) = run(spotter()
        .arg("healthcheck")
        .env("SPOTTER_SERVER_HOST", "127.0.0.1")
        .env("SPOTTER_SERVER_PORT", port.to_string()));
    assert_ne!(hc, 0);
}

#[test]
fn backup_writes_a_consistent_snapshot_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spotter.db");
    let dest = dir.path().join("snapshot.db");
    let mut c = spotter();
    c.arg("backup")
        .arg(&dest)
        .env("SPOTTER_SECURITY_ENCRYPTION_KEY", KEY)
        .env("SPOTTER_SECURITY_JWT_SECRET", JWT)
        .env("SPOTTER_DATABASE_SOURCE", &db);
    let (code, stdout, stderr) = run(&mut c);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Backup written"));
    let bytes = std::fs::read(&dest).unwrap();
    assert!(bytes.starts_with(b"SQLite format 3\0"));
    // A second run refuses to overwrite the first snapshot.
    let (code, _, stderr) = run(&mut c);
    assert_ne!(code, 0);
    assert!(stderr.contains("already exists"), "{stderr}");
}

#[test]
fn check_config_refuses_trusting_every_address() {
    for all in ["0.0.0.0/0", "::/0", "10.0.0.0/8, 0.0.0.0/0"] {
        let (code, stdout, stderr) = run(spotter()
            .arg("check-config")
            .env("SPOTTER_SECURITY_ENCRYPTION_KEY", KEY)
            .env("SPOTTER_SECURITY_JWT_SECRET", JWT)
            .env("SPOTTER_SECURITY_TRUSTED_PROXIES", all));
        assert_eq!(code, 2, "{all}: {stdout}{stderr}");
        assert!(
            stderr.contains("SPOTTER_SECURITY_TRUSTED_PROXIES") && stderr.contains("every address"),
            "{all}: {stderr}"
        );
    }
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn gen_secrets_writes_a_private_file_and_never_overwrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    let (code, stdout, stderr) = run(spotter().arg("gen-secrets").arg("--out").arg(&env));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(".env"), "{stdout}");
    assert_eq!(mode(&env), 0o600);
    let first = std::fs::read_to_string(&env).unwrap();
    assert!(first.contains("SPOTTER_SECURITY_ENCRYPTION_KEY="));
    assert!(
        !stdout.contains(
            first
                .lines()
                .find(|l| l.starts_with("SPOTTER_SECURITY_JWT_SECRET="))
                .unwrap()
        )
    );
    let (code, _, stderr) = run(spotter().arg("gen-secrets").arg("--out").arg(&env));
    assert_ne!(code, 0);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&env).unwrap(), first, "left alone");
}

#[cfg(unix)]
#[test]
fn the_database_and_its_backups_are_private() {
    let root = tempfile::tempdir().unwrap();
    // The data directory does not exist yet: it is created, private to its owner.
    let data = root.path().join("share/spotter");
    let dir = &data;
    let db = data.join("spotter.db");
    let backup = root.path().join("snapshot.db");
    let (code, _, stderr) = run(spotter()
        .arg("backup")
        .arg(&backup)
        .env("SPOTTER_SECURITY_ENCRYPTION_KEY", KEY)
        .env("SPOTTER_SECURITY_JWT_SECRET", JWT)
        .env("SPOTTER_DATABASE_SOURCE", &db));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&backup), 0o600);
    assert_eq!(mode(&data), 0o700);
    for companion in ["spotter.db-wal", "spotter.db-shm"] {
        let p = dir.join(companion);
        if p.exists() {
            assert_eq!(mode(&p) & 0o077, 0, "{companion} is readable by others");
        }
    }
}

#[test]
fn check_config_warns_when_the_base_url_is_on_another_local_port() {
    let (code, _, stderr) = run(spotter()
        .arg("check-config")
        .env("SPOTTER_SECURITY_ENCRYPTION_KEY", KEY)
        .env("SPOTTER_SECURITY_JWT_SECRET", JWT)
        .env("SPOTTER_SERVER_PORT", "9191"));
    assert_eq!(code, 0);
    assert!(
        stderr.contains("warning: SPOTTER_SERVER_BASE_URL")
            && stderr.contains("http://localhost:9191"),
        "{stderr}"
    );
}
