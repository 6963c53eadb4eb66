//! The access service against the AWS emulator, end to end: submit, approve, activate,
//! fetch credentials and use them through the SDK, revoke, then read the role's
//! `BreakglassRevocations` policy back through the SDK and prove with the policy engine that
//! it denies the revoked session and not another grant's session on the same role; the
//! revoked grant's credentials are refused from then on. A grant on a role of another
//! account has that role's policies written in its own account, reached through the revoker
//! role `apply` creates there (never the deploy role), not in the broker's.

use std::sync::Arc;
use std::time::Instant;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_iam::types::Tag;
use breakglass_aws::sdk::{self, AwsOptions};
use breakglass_aws::{AccountRoles, AwsCloud, FederationOptions};
use breakglass_config::Config;
use breakglass_config::resources::{
    DesiredState, MANAGED_BY_TAG, MANAGED_BY_VALUE, Resource, Role,
};
use breakglass_config::templates::revoker::REVOKER_POLICY;
use breakglass_core::app::{App, revoke_all_purpose};
use breakglass_core::cloud::IssuedCredentials;
use breakglass_core::model::{AccountId, RoleArn};
use breakglass_core::revocation::{REVOCATIONS_POLICY, REVOKE_OLDER_SESSIONS_POLICY};
use breakglass_iam::{ContextValue, Decision, PolicySet, PolicyType, Request, parse, parse_caller};
use breakglass_testkit::moto::Moto;

use crate::support::{
    self, TestStore, admin, audit_count, broker, caller, clock, investigate, user,
};

const ACCOUNT: &str = "111111111111";
/// A second managed account (the catalog's `staging`).
const OTHER_ACCOUNT: &str = "222222222222";
const ANALYST_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/breakglass-broker"},"Action":["sts:AssumeRole","sts:SetSourceIdentity","sts:TagSession"]}]}"#;

/// The broker's configuration: its own credentials in the workload account.
async fn broker_config(moto: &Moto) -> SdkConfig {
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
    sdk::assume_role(
        &base,
        &format!("arn:aws:iam::{ACCOUNT}:role/breakglass-broker"),
        "broker",
        ACCOUNT,
    )
    .await
    .unwrap()
}

fn as_session(config: &SdkConfig, creds: &IssuedCredentials) -> SdkConfig {
    config
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            creds.access_key_id.clone(),
            creds.secret_access_key.expose().to_owned(),
            Some(creds.session_token.expose().to_owned()),
            None,
            "grant",
        )))
        .build()
}

/// A call made by the session whose `aws:userid` is `userid`.
fn call_by(creds: &IssuedCredentials) -> Request {
    let caller = parse_caller(&creds.assumed_role_arn, None).unwrap();
    let mut r = Request::new(
        caller,
        "ec2:StopInstances",
        &format!("arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-1"),
    );
    r.insert_context(
        "aws:userid",
        ContextValue::one(creds.assumed_role_id.clone()),
    );
    r.insert_context(
        "aws:TokenIssueTime",
        ContextValue::one("2030-01-01T00:00:00Z"),
    );
    r.derive_principal_keys();
    r
}

fn decide(policy: &str, request: &Request) -> Decision {
    let allow = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        PolicyType::Identity,
    )
    .unwrap();
    let policy = parse(policy, PolicyType::Identity).unwrap();
    PolicySet::builder()
        .identity(&allow)
        .identity(&policy)
        .build()
        .evaluate(request)
        .decision
}

async fn read_policy(config: &SdkConfig, role: &str, name: &str) -> Option<String> {
    let out = aws_sdk_iam::Client::new(config)
        .get_role_policy()
        .role_name(role)
        .policy_name(name)
        .send()
        .await
        .ok()?;
    let doc = out.policy_document();
    Some(if doc.starts_with('%') {
        percent_decode(doc)
    } else {
        doc.to_owned()
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_approve_activate_use_revoke_against_the_emulator() {
    let Some(moto) = Moto::start() else { return };
    let config = broker_config(&moto).await;
    aws_sdk_iam::Client::new(&config)
        .create_role()
        .role_name("SecurityAnalyst")
        .path("/incident-response/")
        .assume_role_policy_document(ANALYST_TRUST)
        .max_session_duration(14_400)
        .send()
        .await
        .unwrap();
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let b = Arc::new(broker(&store, &clock, "e2e-"));
    let access = App::new(
        Arc::clone(&b),
        AwsCloud::new(&config, FederationOptions::default(), AccountRoles::none()),
    );
    let b = &*b;

    // Another responder's live grant on the same role.
    let other = support::active_grant(b, "erin", 60).await;
    let other_creds = access
        .credentials(&caller("erin"), &other, None)
        .await
        .unwrap();

    let r = b.submit(investigate("alice", 60)).await.unwrap().request;
    b.approve(&r.id, user("bob"), r.digest, "ok").await.unwrap();
    let approved_at = Instant::now();
    b.approve(&r.id, user("carol"), r.digest, "ok")
        .await
        .unwrap();
    b.activate(&r.id, user("alice")).await.unwrap();
    let creds = access
        .credentials(&caller("alice"), &r.id, None)
        .await
        .unwrap();
    let who = aws_sdk_sts::Client::new(&as_session(&config, &creds))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    let time_to_access = approved_at.elapsed();
    eprintln!(
        "time to access (last approval to a successful sts:GetCallerIdentity with the minted credentials, emulator): {} ms",
        time_to_access.as_millis()
    );
    assert_eq!(who.arn(), Some(creds.assumed_role_arn.as_str()));
    let grant = b.get(&r.id).await.unwrap().value.grant.unwrap();
    assert!(
        who.arn()
            .unwrap()
            .ends_with(&format!("/SecurityAnalyst/{}", grant.id))
    );
    assert_eq!(grant.issued.len(), 1);
    assert_eq!(grant.issued[0].access_key_id, creds.access_key_id);
    assert!(grant.issued[0].expires_at <= grant.end);

    // Revoke: the grant's session is denied by the role's policy, read back through the SDK.
    let revoking = Instant::now();
    let revoked = access
        .revoke(&caller("bob"), &r.id, "contained")
        .await
        .unwrap();
    assert!(revoked.entry.is_some());
    let policy = read_policy(&config, "SecurityAnalyst", REVOCATIONS_POLICY)
        .await
        .expect("the revocation policy is on the role");
    let time_to_deny = revoking.elapsed();
    eprintln!(
        "time to cut-off (revoke called to the deny written, read back by the broker and read again through the SDK, emulator): {} ms",
        time_to_deny.as_millis()
    );
    assert_eq!(decide(&policy, &call_by(&creds)), Decision::ExplicitDeny);
    assert_eq!(decide(&policy, &call_by(&other_creds)), Decision::Allow);
    assert_eq!(
        audit_count(&store, "grant_revoked", Some(r.id.as_str())).await,
        1
    );

    // The revoked grant never mints again; the other one still does.
    let err = access
        .credentials(&caller("alice"), &r.id, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is revoked, not active"), "{err}");
    access
        .credentials(&caller("erin"), &other, None)
        .await
        .unwrap();

    // Revoke every session of the role: erin's grant is revoked too, and the cutoff policy
    // denies sessions issued before it.
    let role = RoleArn::new(format!(
        "arn:aws:iam::{ACCOUNT}:role/incident-response/SecurityAnalyst"
    ))
    .unwrap();
    let before = clock_now(&clock);
    let step_up = support::step_up_of(&store, &clock, "bob", &revoke_all_purpose(&role)).await;
    let all = access
        .revoke_all(&admin("bob"), &role, "compromised", step_up)
        .await
        .unwrap();
    assert!(all.cutoff >= before);
    assert_eq!(all.revoked, vec![other.clone()]);
    let cut = read_policy(&config, "SecurityAnalyst", REVOKE_OLDER_SESSIONS_POLICY)
        .await
        .expect("AWSRevokeOlderSessions is on the role");
    let mut old = call_by(&other_creds);
    old.insert_context(
        "aws:TokenIssueTime",
        ContextValue::one("2000-01-01T00:00:00Z"),
    );
    assert_eq!(decide(&cut, &old), Decision::ExplicitDeny);
    assert_eq!(audit_count(&store, "role_sessions_revoked", None).await, 1);
    assert!(
        access
            .credentials(&caller("erin"), &other, None)
            .await
            .is_err()
    );
}

fn clock_now(clock: &Arc<breakglass_core::ports::ManualClock>) -> time::OffsetDateTime {
    use breakglass_core::ports::Clock as _;
    clock.now()
}

/// The example config, whose accounts are the catalog's (`111111111111` holds the broker).
fn example_config() -> Config {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/breakglass.toml");
    Config::load(&std::fs::read_to_string(path).unwrap(), "breakglass.toml").unwrap()
}

/// Creates the revoker role of `account` as `apply` does: its trust and inline policy are
/// the desired state's.
async fn create_revoker(config: &Config, deployer: &SdkConfig, account: &str) -> Role {
    let state = DesiredState::build(config);
    let revoker = state
        .account(&AccountId::new(account).unwrap())
        .unwrap()
        .resources
        .iter()
        .find_map(|r| match r {
            Resource::Role(role) if role.name == config.broker.revoker_role.as_str() => {
                Some(role.clone())
            }
            _ => None,
        })
        .expect("the desired state holds a revoker role in every member account");
    let iam = aws_sdk_iam::Client::new(deployer);
    iam.create_role()
        .role_name(&revoker.name)
        .path(&revoker.path)
        .assume_role_policy_document(revoker.trust_policy.to_string())
        .send()
        .await
        .unwrap();
    for (name, doc) in &revoker.inline_policies {
        iam.put_role_policy()
            .role_name(&revoker.name)
            .policy_name(name)
            .policy_document(doc.to_string())
            .send()
            .await
            .unwrap();
    }
    revoker
}

/// The role ARNs of the `AssumeRole` calls the emulator recorded.
fn assumed_roles(moto: &Moto) -> Vec<String> {
    moto.recorded_bodies()
        .unwrap()
        .iter()
        .filter(|b| b.contains("Action=AssumeRole"))
        .filter_map(|b| {
            b.split('&')
                .find_map(|kv| kv.strip_prefix("RoleArn="))
                .map(percent_decode)
        })
        .collect()
}

async fn create_analyst(config: &SdkConfig) -> String {
    aws_sdk_iam::Client::new(config)
        .create_role()
        .role_name("SecurityAnalyst")
        .path("/incident-response/")
        .assume_role_policy_document(ANALYST_TRUST)
        .max_session_duration(14_400)
        .tags(
            Tag::builder()
                .key(MANAGED_BY_TAG)
                .value(MANAGED_BY_VALUE)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_on_a_role_of_another_account_is_cut_off_in_that_account() {
    let Some(moto) = Moto::start() else { return };
    let config = broker_config(&moto).await;
    let other = sdk::assume_role(
        &config,
        &format!("arn:aws:iam::{OTHER_ACCOUNT}:role/incident-response/SecurityDeploy"),
        "tests",
        OTHER_ACCOUNT,
    )
    .await
    .unwrap();
    let arn = create_analyst(&other).await;
    assert!(arn.contains(&format!("::{OTHER_ACCOUNT}:")), "{arn}");
    // The broker's own account has a role of the same name, which must stay untouched.
    create_analyst(&config).await;
    let example = example_config();
    let revoker = create_revoker(&example, &other, OTHER_ACCOUNT).await;
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let b = Arc::new(broker(&store, &clock, "x-"));
    let access = App::new(
        Arc::clone(&b),
        AwsCloud::new(
            &config,
            FederationOptions::default(),
            AccountRoles::revoker(&example),
        ),
    );
    moto.start_recording().unwrap();
    let b = &*b;

    let mut new = investigate("alice", 60);
    new.account = AccountId::new(OTHER_ACCOUNT).unwrap();
    let r = b.submit(new).await.unwrap().request;
    assert_eq!(r.spec.role_arn.as_str(), arn);
    b.approve(&r.id, user("bob"), r.digest, "ok").await.unwrap();
    b.approve(&r.id, user("carol"), r.digest, "ok")
        .await
        .unwrap();
    b.activate(&r.id, user("alice")).await.unwrap();
    let creds = access
        .credentials(&caller("alice"), &r.id, None)
        .await
        .unwrap();
    let who = aws_sdk_sts::Client::new(&as_session(&config, &creds))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(who.account(), Some(OTHER_ACCOUNT));

    access
        .revoke(&caller("bob"), &r.id, "contained")
        .await
        .unwrap();
    let policy = read_policy(&other, "SecurityAnalyst", REVOCATIONS_POLICY)
        .await
        .expect("the revocation policy is on the role, in its own account");
    assert_eq!(decide(&policy, &call_by(&creds)), Decision::ExplicitDeny);
    assert_eq!(
        read_policy(&config, "SecurityAnalyst", REVOCATIONS_POLICY).await,
        None
    );

    let role = RoleArn::new(arn).unwrap();
    let step_up = support::step_up_of(&store, &clock, "bob", &revoke_all_purpose(&role)).await;
    access
        .revoke_all(&admin("bob"), &role, "compromised", step_up)
        .await
        .unwrap();
    assert!(
        read_policy(&other, "SecurityAnalyst", REVOKE_OLDER_SESSIONS_POLICY)
            .await
            .is_some()
    );
    assert_eq!(
        read_policy(&config, "SecurityAnalyst", REVOKE_OLDER_SESSIONS_POLICY).await,
        None
    );

    // The other account was reached through the revoker role only, never the deploy role,
    // and the revoker's own policy (as stored in that account) allows exactly what was done.
    let revoker_arn = format!("arn:aws:iam::{OTHER_ACCOUNT}:role/breakglass/BreakglassRevoker");
    let assumed = assumed_roles(&moto);
    assert!(assumed.contains(&revoker_arn), "{assumed:?}");
    // Besides the revoker, only the grant's own role (and the broker's own session in the
    // test set-up) were assumed: never the deploy role.
    assert!(
        !assumed.iter().any(|a| a.contains("SecurityDeploy")),
        "the broker assumed the deploy role: {assumed:?}"
    );
    let in_other = format!("::{OTHER_ACCOUNT}:");
    assert!(
        assumed
            .iter()
            .filter(|a| a.contains(&in_other))
            .all(|a| a == &revoker_arn || a == role.as_str()),
        "{assumed:?}"
    );
    let stored = read_policy(&other, &revoker.name, REVOKER_POLICY)
        .await
        .unwrap();
    let stored = parse(&stored, PolicyType::Identity).unwrap();
    let as_revoker = |action: &str, resource: &str| {
        let caller = parse_caller(
            &format!(
                "arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/BreakglassRevoker/breakglass-broker"
            ),
            None,
        )
        .unwrap();
        let mut r = Request::new(caller, action, resource);
        r.insert_context(
            "aws:ResourceTag/breakglass:managed-by",
            ContextValue::one("breakglass"),
        );
        PolicySet::builder()
            .identity(&stored)
            .build()
            .evaluate(&r)
            .decision
    };
    for action in [
        "iam:GetRole",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
    ] {
        assert_eq!(
            as_revoker(action, role.as_str()),
            Decision::Allow,
            "{action}"
        );
    }
    assert_eq!(
        as_revoker("iam:AttachRolePolicy", role.as_str()),
        Decision::ImplicitDeny
    );
    assert_eq!(
        as_revoker(
            "iam:PutRolePolicy",
            &format!("arn:aws:iam::{OTHER_ACCOUNT}:role/incident-response/SecurityDeploy")
        ),
        Decision::ImplicitDeny
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_the_emulator_refuses_pages_the_security_team_and_holds_once_fixed() {
    use breakglass_server::notifier::{Notifier, NotifierSettings, WebhookTarget};
    use breakglass_server::{Worker, WorkerConfig};

    let Some(moto) = Moto::start() else { return };
    let config = broker_config(&moto).await;
    create_analyst(&config).await;
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let b = Arc::new(broker(&store, &clock, "fail-"));
    let access = Arc::new(App::new(
        Arc::clone(&b),
        AwsCloud::new(&config, FederationOptions::default(), AccountRoles::none()),
    ));
    let id = support::active_grant(&b, "alice", 60).await;
    access
        .credentials(&caller("alice"), &id, None)
        .await
        .unwrap();
    let grant = b.get(&id).await.unwrap().value.grant.unwrap().id;

    // A real refusal: the emulator does not enforce IAM permissions (every signed call is
    // allowed), so a revoker stripped of its rights cannot be staged; but it does refuse to
    // write a policy on a role that no longer exists. The role the live session belongs to
    // is deleted (as a session holding iam:DeleteRole could), and every write of
    // `BreakglassRevocations` on it fails with NoSuchEntity.
    let iam = aws_sdk_iam::Client::new(&config);
    iam.delete_role()
        .role_name("SecurityAnalyst")
        .send()
        .await
        .unwrap();
    let err = access
        .revoke(&caller("bob"), &id, "contained")
        .await
        .unwrap_err();
    assert!(
        matches!(err, breakglass_core::app::Error::CutOffIncomplete { .. }),
        "{err}"
    );
    assert_eq!(
        audit_count(&store, "revocation_failed", Some(id.as_str())).await,
        1
    );
    let failed = access.failed_cut_offs(&admin("bob")).await.unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].summary, "the role or policy was not found in AWS");

    // The security team's receiver gets the critical alert.
    let hook = crate::receivers::HttpReceiver::start(0).await;
    let mut settings = NotifierSettings::new("https://breakglass.example.com");
    settings.webhooks = vec![WebhookTarget {
        url: hook.url.clone(),
        secret: breakglass_core::cloud::Secret::new("whsec-test-key"),
    }];
    let catalog = support::catalog();
    let notifier = Notifier::new(
        store.clone(),
        Arc::clone(&clock),
        settings,
        catalog.responders.clone(),
        "e2e-notifier",
    )
    .unwrap();
    for _ in 0..5 {
        if notifier.run_once().await.unwrap().delivered == 0 {
            break;
        }
    }
    let alerts: Vec<serde_json::Value> = hook
        .accepted()
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .filter(|v: &serde_json::Value| v["kind"] == "revocation_failed")
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["severity"], "critical");
    assert!(
        alerts[0]["subject"]
            .as_str()
            .unwrap()
            .contains(&format!("request {id}")),
        "{}",
        alerts[0]["subject"]
    );

    // While the role is gone, the worker's retry fails too: audited again (the 2nd failure in
    // a row, paged again).
    let worker = Worker::new(Arc::clone(&access), WorkerConfig::new("e2e-worker"));
    let pass = worker.run_once().await.unwrap();
    assert!(pass.restored.is_empty(), "{pass:?}");
    assert_eq!(
        audit_count(&store, "revocation_failed", Some(id.as_str())).await,
        2
    );
    assert_eq!(
        access.failed_cut_offs(&admin("bob")).await.unwrap()[0].attempts,
        2
    );

    // Fixed: the role is back. The worker's next pass restores the grant's entry (the
    // revocation could not even read the role, so none was stored), writes the deny, reads it
    // back, and the failure is no longer listed.
    create_analyst(&config).await;
    let started = Instant::now();
    let pass = worker.run_once().await.unwrap();
    assert_eq!(pass.restored, vec![id.clone()], "{pass:?}");
    eprintln!(
        "time to cut-off after the cause was fixed (worker pass: deny written and read back, emulator): {} ms",
        started.elapsed().as_millis()
    );
    let policy = read_policy(&config, "SecurityAnalyst", REVOCATIONS_POLICY)
        .await
        .expect("the revocation policy is on the role again");
    assert!(policy.contains(&format!(":{grant}")), "{policy}");
    assert!(
        access
            .failed_cut_offs(&admin("bob"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_rewrites_the_organisation_scp_on_the_emulator() {
    use breakglass_aws::organization;
    use breakglass_config::templates::organization::{DESCRIPTION, POLICY_NAME, initial_content};

    let Some(moto) = Moto::start() else { return };
    let config = broker_config(&moto).await;
    create_analyst(&config).await;
    // The broker's own account is the organisation's management account here; the policy
    // is created as `breakglass apply` creates it.
    let orgs = aws_sdk_organizations::Client::new(&config);
    orgs.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let created = organization::create(
        &orgs,
        POLICY_NAME,
        DESCRIPTION,
        &initial_content().to_string(),
        &[(MANAGED_BY_TAG, MANAGED_BY_VALUE)],
    )
    .await
    .unwrap();
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let b = Arc::new(broker(&store, &clock, "org-"));
    let access = App::new(
        Arc::clone(&b),
        AwsCloud::new(&config, FederationOptions::default(), AccountRoles::none())
            .with_organization(Some(AccountId::new(ACCOUNT).unwrap())),
    );
    let id = support::active_grant(&b, "alice", 60).await;
    access
        .credentials(&caller("alice"), &id, None)
        .await
        .unwrap();

    let revoking = Instant::now();
    access
        .revoke(&caller("bob"), &id, "contained")
        .await
        .unwrap();
    let content = organization::content(&orgs, &created.id).await.unwrap();
    eprintln!(
        "time to cut-off with the organisation SCP (revoke called to the role deny and the SCP written and read back by the broker, then the SCP read again, emulator): {} ms",
        revoking.elapsed().as_millis()
    );
    let content: serde_json::Value = serde_json::from_str(&content).unwrap();
    assert_eq!(
        content["Statement"][0]["Condition"]["StringEquals"]["aws:SourceIdentity"],
        serde_json::json!(["alice"])
    );
    // The role's own deny is there too.
    assert!(
        read_policy(&config, "SecurityAnalyst", REVOCATIONS_POLICY)
            .await
            .is_some()
    );
}
