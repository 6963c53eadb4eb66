//! Fuzzes the policy parser and everything downstream of a successful parse: printing and
//! re-parsing must give the same policy, and linting, sizing, compiling and evaluating it
//! must not panic.

#![no_main]

use breakglass_iam::{
    ContextValue, PolicySet, PolicyType, Request, ResourcePolicyKind, lint, parse, parse_caller,
    size,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for ty in PolicyType::ALL {
        let Ok(policy) = parse(text, ty) else {
            continue;
        };
        let printed = policy.to_compact_string();
        let again = parse(&printed, ty).expect("a printed policy parses");
        assert_eq!(policy, again, "parse -> print -> parse changed the policy");
        let _ = lint::lint(&policy, ty, None);
        if let Some(limit) = size::Limit::for_type(ty) {
            let _ = size::check("fuzzed", text, limit);
        }
        let set = match ty {
            PolicyType::Trust | PolicyType::Resource => PolicySet::builder()
                .resource(&policy, ResourcePolicyKind::Trust)
                .build(),
            PolicyType::Boundary => PolicySet::builder().boundary(&policy).build(),
            PolicyType::Session => PolicySet::builder().session(&policy).build(),
            PolicyType::Scp => PolicySet::builder().scp_level([&policy]).build(),
            PolicyType::Rcp => PolicySet::builder().rcp_level([&policy]).build(),
            PolicyType::Identity => PolicySet::builder().identity(&policy).build(),
        };
        let caller = parse_caller("arn:aws:sts::111122223333:assumed-role/IR/g-01", None)
            .expect("a valid caller");
        let mut req = Request::new(caller, "s3:GetObject", "arn:aws:s3:::evidence/case-1/x")
            .with_context("aws:SourceIp", ContextValue::one("203.0.113.7"))
            .with_context("aws:CurrentTime", ContextValue::one("2024-05-01T12:00:00Z"))
            .with_context("aws:TagKeys", ContextValue::many(["a", "b"]));
        req.derive_principal_keys();
        let _ = set.evaluate(&req);
    }
});
