//! The config loader against the example and the error corpus (`tests/data/config/`).

use std::path::PathBuf;

use breakglass_config::Config;
use serde::Deserialize;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/config")
        .join(name)
}

pub fn example_text() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/breakglass.toml");
    std::fs::read_to_string(path).unwrap()
}

pub fn example() -> Config {
    Config::load(&example_text(), "examples/breakglass.toml").unwrap()
}

#[derive(Deserialize)]
struct Case {
    name: String,
    edits: Vec<(String, String)>,
    expect: Vec<Expected>,
}

#[derive(Deserialize)]
struct Expected {
    line: usize,
    field: String,
    message: String,
}

#[test]
fn the_error_corpus() {
    let base = std::fs::read_to_string(data("base.toml")).unwrap();
    assert!(
        Config::load(&base, "base.toml").is_ok(),
        "the base config must load"
    );
    let cases: Vec<Case> =
        serde_json::from_str(&std::fs::read_to_string(data("errors.json")).unwrap()).unwrap();
    let mut failures = Vec::new();
    for case in &cases {
        let mut text = base.clone();
        for (from, to) in &case.edits {
            assert!(
                text.contains(from.as_str()),
                "{}: `{from}` not in base.toml",
                case.name
            );
            text = text.replacen(from.as_str(), to, 1);
        }
        let errors = match Config::load(&text, "bad.toml") {
            Ok(_) => {
                failures.push(format!("{}: loaded without error", case.name));
                continue;
            }
            Err(errors) => errors,
        };
        let got: Vec<String> = errors.errors().iter().map(ToString::to_string).collect();
        if errors.errors().len() != case.expect.len() {
            failures.push(format!(
                "{}: expected {} error(s), got {got:#?}",
                case.name,
                case.expect.len()
            ));
            continue;
        }
        for (want, err) in case.expect.iter().zip(errors.errors()) {
            let ok = err.file() == "bad.toml"
                && err.line() == want.line
                && (want.field.is_empty() || err.field() == want.field)
                && err.message().contains(want.message.as_str());
            if !ok {
                failures.push(format!(
                    "{}: expected line {} field `{}` message containing `{}`, got `{err}`",
                    case.name, want.line, want.field, want.message
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_example_loads_into_a_catalog() {
    let config = example();
    let catalog = config.catalog();
    assert_eq!(catalog.responders.len(), 3);
    assert_eq!(catalog.playbooks.len(), 4);
    assert_eq!(config.roles.len(), 4);
    assert_eq!(config.accounts.len(), 2);
    // SecurityDeploy is in both accounts, the others in production only.
    assert_eq!(catalog.roles.len(), 5);
    let emergency = catalog
        .playbook(&"emergency".parse().unwrap())
        .expect("the emergency playbook");
    assert!(emergency.break_glass);
    assert_eq!(emergency.approval.required, 2);
    assert!(emergency.session_policy.len() <= 2048);
    let bg = catalog
        .role(
            &"SecurityBreakGlass".parse().unwrap(),
            &"222222222222".parse().unwrap(),
        )
        .unwrap();
    assert_eq!(
        bg.arn.as_str(),
        "arn:aws:iam::222222222222:role/incident-response/SecurityBreakGlass"
    );
    assert!(bg.break_glass);
    assert_eq!(bg.max_session.whole_hours(), 1);
}

#[test]
fn the_schema_describes_every_field() {
    let schema = Config::schema();
    let mut undocumented = Vec::new();
    fn walk(path: &str, value: &serde_json::Value, out: &mut Vec<String>) {
        if let Some(props) = value.get("properties").and_then(|p| p.as_object()) {
            for (name, prop) in props {
                let here = format!("{path}.{name}");
                if prop.get("description").is_none() {
                    out.push(here.clone());
                }
                walk(&here, prop, out);
            }
        }
        if let Some(defs) = value.get("$defs").and_then(|d| d.as_object()) {
            for (name, def) in defs {
                walk(name, def, out);
            }
        }
    }
    walk("", &schema, &mut undocumented);
    assert!(
        undocumented.is_empty(),
        "fields without a description: {undocumented:?}"
    );
    assert_eq!(schema["additionalProperties"], serde_json::json!(false));
}

/// The revoker roles of a desired state, as (account name, role name, the role ARNs its
/// policy names).
fn revokers(config: &Config) -> Vec<(String, String, Vec<String>)> {
    use breakglass_config::resources::{DesiredState, Resource};
    let state = DesiredState::build(config);
    state
        .accounts
        .iter()
        .flat_map(|a| {
            a.resources.iter().filter_map(move |r| match r {
                Resource::Role(role) if role.path == "/breakglass/" => {
                    let doc = role.inline_policies.values().next().unwrap();
                    let names = doc["Statement"][1]["Resource"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_owned())
                        .collect();
                    Some((a.name.clone(), role.name.clone(), names))
                }
                _ => None,
            })
        })
        .collect()
}

#[test]
fn the_revoker_role_is_in_member_accounts_and_names_the_brokered_roles_only() {
    let config = example();
    assert_eq!(
        config
            .revoker_role_arn(&"222222222222".parse().unwrap())
            .unwrap()
            .as_str(),
        "arn:aws:iam::222222222222:role/breakglass/BreakglassRevoker"
    );
    // Not in the security account (the broker's own), and never naming SecurityDeploy,
    // which production holds too.
    assert_eq!(
        revokers(&config),
        [(
            "production".to_owned(),
            "BreakglassRevoker".to_owned(),
            [
                "arn:aws:iam::222222222222:role/incident-response/SecurityAdmin",
                "arn:aws:iam::222222222222:role/incident-response/SecurityAnalyst",
                "arn:aws:iam::222222222222:role/incident-response/SecurityBreakGlass",
            ]
            .map(str::to_owned)
            .to_vec()
        )]
    );
}

#[test]
fn an_account_with_no_role_to_revoke_gets_no_revoker_role() {
    // Every brokered role restricted to the security account: production keeps only the
    // deploy role, so it needs no revoker.
    let text = example_text()
        .replace(
            "[roles.SecurityAnalyst]\ntemplate = \"SecurityAnalyst\"\n",
            "[roles.SecurityAnalyst]\ntemplate = \"SecurityAnalyst\"\naccounts = [\"security\"]\n",
        )
        .replace(
            "[roles.SecurityAdmin]\ntemplate = \"SecurityAdmin\"\n",
            "[roles.SecurityAdmin]\ntemplate = \"SecurityAdmin\"\naccounts = [\"security\"]\n",
        )
        .replace(
            "[roles.SecurityBreakGlass]\ntemplate = \"SecurityBreakGlass\"\n",
            "[roles.SecurityBreakGlass]\ntemplate = \"SecurityBreakGlass\"\naccounts = [\"security\"]\n",
        );
    let config = Config::load(&text, "breakglass.toml").unwrap();
    assert!(revokers(&config).is_empty());
}

#[test]
fn an_oidc_provider_loads_with_its_defaults_and_the_console_callback() {
    let base = std::fs::read_to_string(data("base.toml")).unwrap();
    let text = base.replacen(
        "[notifications]\n",
        "[auth.oidc]\nissuer = \"https://idp.example.com/oauth2/default\"\nclient_id = \"breakglass\"\ngroups_claim = \"groups\"\n\n[notifications]\n",
        1,
    );
    let config = Config::load(&text, "oidc.toml").unwrap();
    let oidc = config.auth.oidc.unwrap();
    assert_eq!(oidc.issuer, "https://idp.example.com/oauth2/default");
    assert_eq!(oidc.client_secret_env, "BREAKGLASS_OIDC_CLIENT_SECRET");
    assert_eq!(oidc.scopes, ["openid", "email", "profile"]);
    assert_eq!(oidc.groups_claim.as_deref(), Some("groups"));
    assert_eq!(oidc.subject, breakglass_config::OidcSubject::Email);
    assert_eq!(
        oidc.redirect_url,
        "https://breakglass.example.com/console/oidc/callback"
    );
    assert!(
        Config::load(&base, "base.toml")
            .unwrap()
            .auth
            .oidc
            .is_none(),
        "no [auth.oidc], no SSO"
    );
}

#[test]
fn a_teams_webhook_is_named_by_its_variable() {
    let base = std::fs::read_to_string(data("base.toml")).unwrap();
    let text = base.replacen(
        "[notifications]\n",
        "[notifications]\nteams_webhook_url_env = \"BREAKGLASS_TEAMS_WEBHOOK_URL\"\n",
        1,
    );
    let config = Config::load(&text, "teams.toml").unwrap();
    let n = config.notifications.unwrap();
    assert_eq!(
        n.teams_webhook_url_env.as_deref(),
        Some("BREAKGLASS_TEAMS_WEBHOOK_URL")
    );
    let base = Config::load(&base, "base.toml").unwrap();
    assert_eq!(base.notifications.unwrap().teams_webhook_url_env, None);
    // The config's schema documents it where it documents the Slack webhook's.
    let schema = Config::schema().to_string();
    assert!(schema.contains("teams_webhook_url_env"), "{schema}");
}
