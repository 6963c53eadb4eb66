//! The access-as-code commands end to end: `config validate|schema`, `lint`, `plan` (every
//! rendered CloudFormation template through cfn-lint) and `apply` against the emulator.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use breakglass_testkit::moto::{Moto, venv_tool};
use breakglass_testkit::workspace_root;

fn breakglass(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_breakglass"))
        .current_dir(workspace_root())
        .env_remove("BREAKGLASS_CONFIG")
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const EXAMPLE: &str = "examples/breakglass.toml";

/// A fresh directory under the target dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = workspace_root()
            .join("target")
            .join("test-tmp")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_example_validates() {
    let out = breakglass(&["config", "validate", "--config", EXAMPLE]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "examples/breakglass.toml: ok (2 accounts, 4 roles, 4 playbooks, 3 responders)\n"
    );
}

#[test]
fn a_bad_config_names_file_line_and_field_and_exits_2() {
    let dir = TempDir::new("bad-config");
    let text = std::fs::read_to_string(workspace_root().join(EXAMPLE))
        .unwrap()
        .replace("max_duration = \"4h\"", "max_duration = \"13h\"")
        .replace(
            "roles = [\"SecurityAnalyst\"]",
            "roles = [\"SecurityAnalist\"]",
        );
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, text).unwrap();
    let out = breakglass(&["config", "validate", "--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out).replace(file.to_str().unwrap(), "bad.toml");
    insta::assert_snapshot!(err);
}

#[test]
fn the_schema_is_json_with_every_top_level_field() {
    let out = breakglass(&["config", "schema"]);
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let props = schema["properties"].as_object().unwrap();
    for field in [
        "version",
        "accounts",
        "broker",
        "roles",
        "playbooks",
        "alerting",
    ] {
        assert!(props.contains_key(field), "{field} missing from the schema");
    }
}

#[test]
fn the_example_lints_without_errors() {
    let out = breakglass(&["lint", "--config", EXAMPLE]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains(": error["), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn lint_fails_on_an_unwatched_break_glass_role() {
    let dir = TempDir::new("unwatched");
    let text = std::fs::read_to_string(workspace_root().join(EXAMPLE))
        .unwrap()
        .replace(
            "role_name_pattern = \"*BreakGlass*\"",
            "role_name_pattern = \"*Emergency*\"",
        );
    let file = dir.path().join("unwatched.toml");
    std::fs::write(&file, text).unwrap();
    let out = breakglass(&[
        "lint",
        "--config",
        file.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let errors: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|f: &serde_json::Value| f["level"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["code"], "break-glass-role-unwatched");
    assert_eq!(errors[0]["field"], "roles.SecurityBreakGlass");
}

#[test]
fn every_rendered_cloudformation_template_passes_cfn_lint() {
    let dir = TempDir::new("plan");
    let out = breakglass(&[
        "plan",
        "--config",
        EXAMPLE,
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let templates: Vec<PathBuf> = std::fs::read_dir(dir.path().join("cloudformation"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    // One per account, the StackSet, and the organisation's revoked-responders SCP.
    assert_eq!(templates.len(), 4, "{templates:?}");
    assert!(
        std::fs::read_to_string(dir.path().join("cloudformation/organization.yaml"))
            .unwrap()
            .contains("AWS::Organizations::Policy")
    );
    for tf in [
        "production.tf.json",
        "security.tf.json",
        "organization.tf.json",
    ] {
        let text = std::fs::read_to_string(dir.path().join("terraform").join(tf)).unwrap();
        let _: serde_json::Value = serde_json::from_str(&text).unwrap();
    }
    assert!(
        dir.path()
            .join("iam/session-policies/emergency.json")
            .is_file()
    );
    let Some(cfn_lint) = venv_tool("cfn-lint") else {
        return;
    };
    let out = Command::new(cfn_lint).args(&templates).output().unwrap();
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
}

fn apply(moto: &Moto, config: &str, extra: &[&str]) -> Output {
    let mut args = vec!["apply", "--config", config, "--endpoint-url"];
    let endpoint = moto.endpoint();
    args.push(&endpoint);
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_breakglass"))
        .current_dir(workspace_root())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .args(&args)
        .output()
        .unwrap()
}

/// CloudTrail's log group in each account's home region: a prerequisite `apply` checks for
/// and never creates.
fn create_log_groups(moto: &Moto) {
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use breakglass_aws::sdk::{self, AwsOptions};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let options = AwsOptions {
            endpoint_url: Some(moto.endpoint()),
            region: Some("us-east-1".to_owned()),
            profile: None,
        };
        let base = sdk::load(&options)
            .await
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "testing", "testing", None, None, "tests",
            )))
            .build();
        for account in ["111111111111", "222222222222"] {
            let role = format!("arn:aws:iam::{account}:role/incident-response/SecurityDeploy");
            let sdk = sdk::assume_role(&base, &role, "tests", account)
                .await
                .unwrap();
            aws_sdk_cloudwatchlogs::Client::new(&sdk)
                .create_log_group()
                .log_group_name("aws-cloudtrail-logs")
                .send()
                .await
                .unwrap();
        }
    });
}

#[test]
fn apply_shows_the_diff_dry_run_changes_nothing_and_a_rerun_is_a_no_op() {
    let Some(moto) = Moto::start() else { return };
    create_log_groups(&moto);
    let dry = apply(&moto, EXAMPLE, &["--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    let text = stdout(&dry);
    assert!(text.contains("  + user alice-BREAK-GLASS\n"), "{text}");
    assert!(
        text.contains("  + metric filter us-east-1/breakglass-break-glass-role-assumed\n"),
        "{text}"
    );
    // The broker's revoker role goes to production, not to the security account.
    assert!(
        text.contains("account production (222222222222)\n  + policy BreakglassGuardrails\n  + role BreakglassRevoker\n"),
        "{text}"
    );
    assert!(text.contains("dry run: 76 change(s) not applied"), "{text}");
    // Every region watches its own break-glass rules' deliveries.
    assert!(
        text.contains("  + alarm us-west-2/breakglass-assume-role-delivery-failed\n"),
        "{text}"
    );

    // The dry run changed nothing: the same diff again. As a drift check, it exits 2 when
    // there are changes (0 when none, below).
    let again = apply(&moto, EXAMPLE, &["--dry-run"]);
    assert_eq!(stdout(&again), text);
    let drift = apply(&moto, EXAMPLE, &["--dry-run", "--exit-code"]);
    assert_eq!(drift.status.code(), Some(2), "{}", stderr(&drift));
    assert_eq!(stdout(&drift), text);

    let applied = apply(&moto, EXAMPLE, &[]);
    assert!(applied.status.success(), "{}", stderr(&applied));
    let text = stdout(&applied);
    assert!(
        text.contains("account production (222222222222): applied 42 change(s)"),
        "{text}"
    );
    assert!(
        text.contains("account security (111111111111): applied 34 change(s)"),
        "{text}"
    );
    // The generated passwords never reach the output.
    assert!(!text.to_lowercase().contains("password\":"), "{text}");

    let rerun = apply(&moto, EXAMPLE, &[]);
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    let text = stdout(&rerun);
    assert!(text.ends_with("no changes\n"), "{text}");
    let no_drift = apply(&moto, EXAMPLE, &["--dry-run", "--exit-code"]);
    assert_eq!(no_drift.status.code(), Some(0), "{}", stdout(&no_drift));
    let alone = apply(&moto, EXAMPLE, &["--exit-code"]);
    assert_eq!(alone.status.code(), Some(2), "--exit-code needs --dry-run");
    assert!(
        !text.contains("  + ") && !text.contains("  ~ ") && !text.contains("  - "),
        "{text}"
    );
}

/// The SDK configuration of moto's default account (the caller's), for checks (a macro:
/// this crate does not name `aws-config`'s type).
macro_rules! moto_sdk {
    ($moto:expr) => {{
        use aws_credential_types::Credentials;
        use aws_credential_types::provider::SharedCredentialsProvider;
        use breakglass_aws::sdk::{self, AwsOptions};
        let options = AwsOptions {
            endpoint_url: Some($moto.endpoint()),
            region: Some("us-east-1".to_owned()),
            profile: None,
        };
        sdk::load(&options)
            .await
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "testing", "testing", None, None, "tests",
            )))
            .build()
    }};
}

#[test]
fn apply_creates_and_attaches_the_organisation_scp_and_the_broker_rewrites_it() {
    use breakglass_aws::organization;
    use breakglass_core::cloud::Cloud as _;
    let Some(moto) = Moto::start() else { return };
    create_log_groups(&moto);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // The caller's account becomes the organisation's management account.
    let (account, root) = runtime.block_on(async {
        let sdk = moto_sdk!(moto);
        let orgs = aws_sdk_organizations::Client::new(&sdk);
        let org = orgs
            .create_organization()
            .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
            .send()
            .await
            .unwrap();
        let account = org
            .organization()
            .unwrap()
            .master_account_id()
            .unwrap()
            .to_owned();
        let root = organization::roots(&orgs).await.unwrap().remove(0);
        (account, root)
    });
    let dir = TempDir::new("organization");
    let config = dir.path().join("breakglass.toml");
    let example = std::fs::read_to_string(workspace_root().join(EXAMPLE)).unwrap();
    std::fs::write(
        &config,
        format!("{example}\n[organization]\nmanagement_account = \"{account}\"\n"),
    )
    .unwrap();
    let config = config.to_str().unwrap();

    let applied = apply(&moto, config, &[]);
    assert!(applied.status.success(), "{}", stderr(&applied));
    let text = stdout(&applied);
    assert!(
        text.contains(&format!(
            "organization (management account {account})\n  + scp BreakglassRevokedResponders\n  + scp BreakglassRevokedResponders attached to {root}\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "organization (management account {account}): applied 2 change(s)"
        )),
        "{text}"
    );

    runtime.block_on(async {
        let sdk = moto_sdk!(moto);
        let orgs = aws_sdk_organizations::Client::new(&sdk);
        let policy = organization::find(&orgs, "BreakglassRevokedResponders")
            .await
            .unwrap()
            .expect("apply created the SCP");
        assert_eq!(
            organization::targets(&orgs, &policy.id).await.unwrap(),
            std::slice::from_ref(&root)
        );
        let content = organization::content(&orgs, &policy.id).await.unwrap();
        assert!(content.contains("breakglass:none"), "{content}");

        // The running broker's adapter reads and rewrites it (what a revocation does).
        let cloud = breakglass_aws::AwsCloud::new(
            &sdk,
            breakglass_aws::FederationOptions::default(),
            breakglass_aws::AccountRoles::none(),
        )
        .with_organization(Some(
            breakglass_core::model::AccountId::new(account.as_str()).unwrap(),
        ));
        let doc = breakglass_core::revocation::organization_deny_document(["mallory"]).unwrap();
        cloud.put_organization_policy(&doc).await.unwrap();
        let read = cloud.organization_policy().await.unwrap().unwrap();
        let read: serde_json::Value = serde_json::from_str(&read).unwrap();
        assert_eq!(
            read["Statement"][0]["Condition"]["StringEquals"]["aws:SourceIdentity"],
            serde_json::json!(["mallory"])
        );
    });

    // A rerun finds nothing to do and leaves the broker's content alone.
    let rerun = apply(&moto, config, &[]);
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    let text = stdout(&rerun);
    assert!(
        text.contains(&format!(
            "organization (management account {account})\n  no changes\n"
        )),
        "{text}"
    );
    runtime.block_on(async {
        let sdk = moto_sdk!(moto);
        let orgs = aws_sdk_organizations::Client::new(&sdk);
        let policy = organization::find(&orgs, "BreakglassRevokedResponders")
            .await
            .unwrap()
            .unwrap();
        let content = organization::content(&orgs, &policy.id).await.unwrap();
        assert!(content.contains("mallory"), "{content}");
    });
}
