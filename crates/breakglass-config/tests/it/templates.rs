//! The built-in templates against the IAM policy engine: every document is a valid policy,
//! and every one passes the linter or carries a documented, reasoned exception (with and
//! without the action catalog), and no exception is stale.

use std::collections::BTreeSet;
use std::path::PathBuf;

use breakglass_config::Config;
use breakglass_config::lint::{Level, Origin, lint};
use breakglass_config::templates::TemplateContext;
use breakglass_config::templates::exceptions::LINT_EXCEPTIONS;
use breakglass_config::templates::roles::{ROLE_TEMPLATES, role_template};
use breakglass_config::templates::session_policy::{
    SESSION_TEMPLATES, SessionParams, SessionTemplate,
};
use breakglass_config::templates::trust::{Trust, TrustPrincipals, trust_policy};
use breakglass_config::templates::users::user_policies;
use breakglass_iam::{Catalog, PolicyType, parse_value};

fn all_templates() -> Config {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/config/all-templates.toml");
    Config::load(
        &std::fs::read_to_string(path).unwrap(),
        "all-templates.toml",
    )
    .unwrap()
}

fn ctx() -> TemplateContext {
    TemplateContext {
        partition: "aws".to_owned(),
        path: "/incident-response/".to_owned(),
        sns_topic: "breakglass-alerts".to_owned(),
    }
}

#[test]
fn every_builtin_document_is_a_valid_policy() {
    for name in ROLE_TEMPLATES {
        for (policy, doc) in role_template(name, &ctx()).unwrap().inline_policies {
            parse_value(&doc, PolicyType::Identity)
                .unwrap_or_else(|e| panic!("{name}/{policy}: {e}"));
        }
    }
    for name in SESSION_TEMPLATES {
        let params = SessionParams {
            partition: "aws".to_owned(),
            ..SessionParams::default()
        };
        let doc = SessionTemplate::from_name(name).unwrap().document(&params);
        parse_value(&doc, PolicyType::Session).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let security = "111111111111".parse().unwrap();
    let users = ["arn:aws:iam::111111111111:user/incident-response/alice-BREAK-GLASS".to_owned()];
    let deployers = ["arn:aws:iam::111111111111:role/ci".to_owned()];
    let principals = TrustPrincipals {
        partition: "aws",
        broker: "arn:aws:iam::111111111111:role/breakglass-broker",
        security_account: &security,
        break_glass_users: &users,
        deployers: &deployers,
    };
    let doc = trust_policy(
        &[Trust::Broker, Trust::BreakGlassUsers, Trust::Deployers],
        &principals,
    )
    .unwrap();
    parse_value(&doc, PolicyType::Trust).unwrap();
    let roles = ["arn:aws:iam::222222222222:role/incident-response/SecurityBreakGlass".to_owned()];
    for (policy, doc) in user_policies("aws", "/incident-response/", &roles) {
        parse_value(&doc, PolicyType::Identity).unwrap_or_else(|e| panic!("user {policy}: {e}"));
    }
}

/// Policy findings at warning or error level, and the exceptions that were applied.
fn check(catalog: Option<&Catalog>) -> BTreeSet<String> {
    let findings = lint(&all_templates(), catalog);
    let unexcused: Vec<String> = findings
        .iter()
        .filter(|f| f.origin == Origin::Policy && f.level > Level::Info)
        .map(|f| format!("{} {}: {}", f.code, f.path, f.message))
        .collect();
    assert!(
        unexcused.is_empty(),
        "findings without an exception:\n{}",
        unexcused.join("\n")
    );
    findings
        .iter()
        .filter(|f| {
            f.origin == Origin::Policy && f.message.contains("(accepted for the built-in template")
        })
        .map(|f| f.code.to_owned())
        .collect()
}

#[test]
fn every_builtin_template_passes_policy_lint_or_carries_an_exception() {
    let used = check(None);
    let listed: BTreeSet<String> = LINT_EXCEPTIONS.iter().map(|e| e.code.to_owned()).collect();
    assert_eq!(used, listed, "an exception is never needed: remove it");
    assert_eq!(
        lint(&all_templates(), None)
            .iter()
            .filter(|f| f.message.contains("(accepted for"))
            .count(),
        LINT_EXCEPTIONS.len() + 7,
        "each exception is used (trust exceptions once per role trusting the broker, and \
         containment's write-on-all-resources once per statement)"
    );
}

#[test]
fn every_builtin_template_passes_policy_lint_with_the_action_catalog() {
    let Some(dir) = breakglass_testkit::shared_data("iam-data/data") else {
        return;
    };
    let mut catalog = Catalog::new();
    for entry in std::fs::read_dir(dir.join("actions")).unwrap() {
        let path = entry.unwrap().path();
        let prefix = path.file_stem().unwrap().to_str().unwrap().to_owned();
        catalog
            .add_service(&prefix, &std::fs::read_to_string(&path).unwrap())
            .unwrap();
        let keys = dir.join("conditionKeys").join(format!("{prefix}.json"));
        if keys.is_file() {
            catalog
                .add_condition_keys(&prefix, &std::fs::read_to_string(keys).unwrap())
                .unwrap();
        }
    }
    check(Some(&catalog));
}
