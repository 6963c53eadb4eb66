//! Benchmarks the effective-permission sweep (`PolicySet::sweep`) on the example config's
//! largest playbook: its role's identity policies and boundary, intersected with the
//! playbook's session policy, swept over the whole action catalog on `*`. The target is
//! under 50 ms per sweep on one core.
//!
//! "Largest" is the playbook whose session policy allows the most catalog actions (with a
//! role that allows everything). The role's AWS managed policies are not part of the
//! repository; the one this playbook's role attaches, AdministratorAccess, is `Allow *` on
//! `*` (AWS Managed Policy Reference), and setup refuses any other.
//!
//! Needs the shared action catalog (`../shared/data/iam-data`); without it the benchmark
//! says so and measures nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "benchmark setup fails loudly and says what it measures"
)]

use std::hint::black_box;

use breakglass_config::Config;
use breakglass_iam::{Catalog, Policy, PolicySet, PolicyType, parse, parse_value};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const ADMINISTRATOR_ACCESS: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

fn load_catalog() -> Option<Catalog> {
    let data = breakglass_testkit::shared_data("iam-data/data")?;
    let mut catalog = Catalog::new();
    for entry in std::fs::read_dir(data.join("actions")).unwrap() {
        let path = entry.unwrap().path();
        let prefix = path.file_stem().unwrap().to_str().unwrap().to_owned();
        catalog
            .add_service(&prefix, &std::fs::read_to_string(&path).unwrap())
            .unwrap();
    }
    Some(catalog)
}

fn example_config() -> Config {
    let path = breakglass_testkit::workspace_root().join("examples/breakglass.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    Config::load(&text, "examples/breakglass.toml").unwrap()
}

fn sweep(c: &mut Criterion) {
    let Some(catalog) = load_catalog() else {
        eprintln!("sweep benchmark skipped: the shared iam-data catalog is absent");
        return;
    };
    let config = example_config();
    let admin = parse(ADMINISTRATOR_ACCESS, PolicyType::Identity).unwrap();

    // The playbook whose session policy allows the most.
    let sessions: Vec<(String, Policy)> = config
        .playbooks
        .iter()
        .map(|p| {
            (
                p.id.to_string(),
                parse(p.session_policy.as_str(), PolicyType::Session).unwrap(),
            )
        })
        .collect();
    let sizes: Vec<usize> = sessions
        .iter()
        .map(|(_, s)| {
            PolicySet::builder()
                .identity(&admin)
                .session(s)
                .build()
                .sweep(&catalog, "*")
                .len()
        })
        .collect();
    let (largest, _) = sizes.iter().enumerate().max_by_key(|(_, n)| **n).unwrap();
    let (playbook_id, session) = &sessions[largest];
    let playbook = &config.playbooks[largest];

    // Its (first) role: inline policies, AdministratorAccess, no boundary.
    let role = config.role(&playbook.roles[0]).unwrap();
    let mut identity: Vec<Policy> = role
        .inline_policies
        .values()
        .map(|v| parse_value(v, PolicyType::Identity).unwrap())
        .collect();
    for arn in &role.managed_policies {
        assert!(
            arn.ends_with(":policy/AdministratorAccess"),
            "the benchmark knows only AdministratorAccess, not `{arn}`"
        );
        identity.push(admin.clone());
    }
    assert!(
        role.permissions_boundary.is_none(),
        "the benchmark has no boundary document for `{}`",
        role.name
    );
    let mut builder = PolicySet::builder();
    for p in &identity {
        builder = builder.identity(p);
    }
    let set = builder.session(session).build();
    let result = set.sweep(&catalog, "*");
    eprintln!(
        "sweep: playbook `{playbook_id}` (role `{}`): {} of {} catalog actions allowed over {} services",
        role.name,
        result.len(),
        catalog.action_count(),
        result.services.len()
    );

    let mut group = c.benchmark_group("sweep");
    group.throughput(Throughput::Elements(catalog.action_count() as u64));
    group.bench_function("largest_playbook", |b| {
        b.iter(|| black_box(set.sweep(black_box(&catalog), black_box("*"))))
    });
    group.finish();
}

criterion_group!(benches, sweep);
criterion_main!(benches);
