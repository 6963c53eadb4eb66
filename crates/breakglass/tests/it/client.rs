//! The client commands refuse to send an API token across a network in clear text, before
//! connecting to anything.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_breakglass");

fn login(url: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .env("BREAKGLASS_SESSION_FILE", dir.path().join("session.json"))
        .env("BREAKGLASS_PASSWORD", "correct horse battery staple")
        .args(["login", "--url", url, "--username", "alice"])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn plain_http_is_refused_except_to_this_machine() {
    for (url, says) in [
        ("http://10.0.0.5:8470", "clear text"),
        ("http://breakglass.example.com", "clear text"),
        ("http://localhost.evil.example", "clear text"),
        ("ftp://127.0.0.1", "must start with `https://`"),
        ("127.0.0.1:8470", "must start with `https://`"),
    ] {
        let (ok, stderr) = login(url);
        assert!(!ok, "{url}");
        assert!(stderr.contains(says), "{url}: {stderr}");
    }
    // Loopback in plain http and any https URL get as far as connecting: nothing listens
    // on port 9 here.
    for url in [
        "http://127.0.0.1:9",
        "http://[::1]:9",
        "https://127.0.0.1:9",
    ] {
        let (ok, stderr) = login(url);
        assert!(!ok, "{url}");
        assert!(
            stderr.contains("cannot reach the broker"),
            "{url}: {stderr}"
        );
    }
}

#[test]
fn https_is_spoken_and_an_untrusted_certificate_refused() {
    // A server that answers TLS with garbage: the client must fail the handshake rather than
    // fall back to plain http.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        if let Ok((mut s, _)) = listener.accept() {
            let mut hello = [0u8; 5];
            let _ = s.read_exact(&mut hello);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}");
            hello
        } else {
            [0u8; 5]
        }
    });
    let (ok, stderr) = login(&format!("https://127.0.0.1:{port}"));
    assert!(!ok, "{stderr}");
    let hello = server.join().unwrap();
    assert_eq!(
        hello[0], 0x16,
        "the client opened with a TLS handshake record"
    );
}

/// The web console prints `credential_process = breakglass creds --grant G --server URL`:
/// a `--server` other than the signed-in broker's is refused before its token is sent.
#[test]
fn creds_refuses_a_server_other_than_the_signed_in_one() {
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("session.json");
    std::fs::write(
        &session,
        r#"{"url":"http://127.0.0.1:9","username":"alice","token":"bgt_x","expires_at":"2099-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let creds = |server: &str| {
        Command::new(BIN)
            .env("BREAKGLASS_SESSION_FILE", &session)
            .args(["creds", "--grant", "g-1", "--server", server])
            .output()
            .unwrap()
    };
    let out = creds("http://127.0.0.1:8");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("signed in to `http://127.0.0.1:9`")
            && err.contains("--url http://127.0.0.1:8"),
        "{err}"
    );
    // The session's own broker passes the check, then cannot be reached (exit 3): nothing
    // listens on port 9 here.
    let out = creds("http://127.0.0.1:9/");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every duration flag takes the config's syntax and a bad one names the flag and shows an
/// example, before anything is sent (nothing listens on port 9 here).
#[test]
fn duration_flags_take_one_syntax_and_a_bad_one_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .env("BREAKGLASS_SESSION_FILE", dir.path().join("session.json"))
            .env("BREAKGLASS_PASSWORD", "x")
            .args(args)
            .output()
            .unwrap()
    };
    let ask = |duration: &str| {
        run(&[
            "request", "-p", "p", "-r", "R", "-a", "a", "-d", duration, "-i", "I", "-j", "j",
        ])
    };
    for (out, flag, bad) in [
        (ask("90x"), "--duration", "90x"),
        (ask("0m"), "--duration", "0m"),
        (
            run(&["extend", "r-1", "--add", "1 hour", "-j", "j"]),
            "--add",
            "1 hour",
        ),
        (
            run(&[
                "login",
                "--url",
                "http://127.0.0.1:9",
                "-u",
                "a",
                "--ttl",
                "12",
            ]),
            "--ttl",
            "12",
        ),
    ] {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(flag) && err.contains(bad),
            "{flag} {bad}: {err}"
        );
        assert!(err.contains("1h30m") || err.contains("90m"), "{err}");
    }
    // A token lasts whole hours.
    let out = run(&[
        "login",
        "--url",
        "http://127.0.0.1:9",
        "-u",
        "a",
        "--ttl",
        "90m",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--ttl") && err.contains("whole hours"),
        "{err}"
    );
    // Good values get as far as the (missing) session or broker.
    let out = ask("1h30m");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not logged in"), "{err}");
}
