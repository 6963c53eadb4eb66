//! `apply` without AWS credentials, or with an endpoint nobody answers at, ends with a line
//! or two saying what failed and what to do, not the SDK's debug dump (that is what
//! `--verbose` is for).

use std::process::{Command, Output};

use breakglass_testkit::workspace_root;

use crate::support::{BIN, free_port, text};

/// `apply` of the example config with no AWS credentials anywhere (`creds`: the static
/// test keys in the environment instead).
fn apply(extra: &[&str], creds: bool) -> Output {
    let config = workspace_root().join("examples/breakglass.toml");
    let mut cmd = Command::new(BIN);
    cmd.args(["apply", "-c", config.to_str().unwrap(), "--dry-run"])
        .args(extra)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_ENDPOINT_URL",
        "BREAKGLASS_AWS_ENDPOINT_URL",
    ] {
        cmd.env_remove(var);
    }
    if creds {
        cmd.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing");
    }
    cmd.output().unwrap()
}

/// No SDK debug text: the `Debug` of its error structs.
fn assert_readable(stderr: &str) {
    for dump in [
        "DispatchFailure",
        "ConnectorError",
        "Some(",
        " { ",
        "CredentialsNotLoaded",
    ] {
        assert!(!stderr.contains(dump), "`{dump}` in:\n{stderr}");
    }
    assert!(stderr.lines().count() <= 2, "{stderr}");
}

#[test]
fn apply_without_credentials_says_so_in_a_line_and_what_to_do() {
    let out = apply(&[], false);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert_readable(&err);
    assert!(err.contains("no AWS credentials found"), "{err}");
    assert!(err.contains("AWS_PROFILE"), "{err}");
    assert!(err.contains("--verbose"), "{err}");

    let out = apply(&["--verbose"], false);
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(err.contains("no AWS credentials found"), "{err}");
    assert!(err.contains("AWS SDK detail"), "{err}");
}

#[test]
fn apply_against_an_endpoint_nobody_answers_at_says_it_cannot_reach_it() {
    // A port nobody listens on.
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let out = apply(&["--endpoint-url", &endpoint], true);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert_readable(&err);
    assert!(err.contains("cannot reach the AWS endpoint"), "{err}");
}
