//! `breakglass policy`: the commands run the engine on files, print what they found and exit
//! with the documented codes (0 ok, 1 problems found, 2 bad input).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

fn corpus() -> PathBuf {
    workspace_root().join("crates/breakglass-iam/tests/corpus")
}

fn breakglass(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_breakglass"))
        .args(args)
        .output()
        .unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Writes `text` to a fresh file under the test's temporary directory.
fn file(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy-cli");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn eval_passes_every_case_of_the_corpus() {
    let out = breakglass(&[
        "policy",
        "eval",
        "--case",
        path_str(&corpus()),
        "--format",
        "jsonl",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 300, "{}", lines.len());
    assert!(lines.iter().all(|l| l["passed"] == true), "a case failed");
}

#[test]
fn eval_prints_one_object_per_case_with_its_reasons() {
    let case = file(
        "one-case.json",
        r#"{"name":"session policy narrows role permissions",
            "request":{"action":"s3:PutObject","resource":"arn:aws:s3:::evidence/x","principal":"arn:aws:sts::111122223333:assumed-role/IR/g-01","resourceAccount":"111122223333"},
            "identityPolicies":[{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}],
            "sessionPolicy":{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}},
            "expected":{"decision":"ImplicitDeny"}}"#,
    );
    let out = breakglass(&["policy", "eval", "--case", path_str(&case)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"name": "session policy narrows role permissions", "decision": "ImplicitDeny",
            "decidedBy": [{"pointer": "/sessionPolicy", "missingAllow": true}], "passed": true})
    );
}

#[test]
fn eval_exits_1_when_a_case_does_not_match() {
    let case = file(
        "wrong.json",
        r#"[{"name":"wrong","request":{"action":"s3:GetObject","principal":"arn:aws:iam::111122223333:user/a"},
             "identityPolicies":[{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}],
             "expected":{"decision":"ExplicitDeny"}}]"#,
    );
    let out = breakglass(&[
        "policy",
        "eval",
        "--case",
        path_str(&case),
        "--format",
        "table",
    ]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("FAIL  Allow"), "{}", stdout(&out));
    assert!(stdout(&out).contains("expected ExplicitDeny, got Allow"));
}

#[test]
fn eval_exits_2_on_a_malformed_case_file() {
    let case = file(
        "broken.json",
        "{\"name\": \"x\",\n \"request\": {\"action\": }\n}",
    );
    let out = breakglass(&["policy", "eval", "--case", path_str(&case)]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("broken.json` is not a valid case file: invalid JSON at line 2"),
        "{}",
        stderr(&out)
    );
}

/// Regression: one case that cannot be read or evaluated used to stop its whole file (exit
/// 2, no decisions); now it gets its own error line, the other cases run, and the exit code
/// is 1.
#[test]
fn eval_reports_a_malformed_case_beside_the_other_decisions_and_exits_1() {
    let case = file(
        "one-malformed.json",
        r#"[{"name":"fine","request":{"action":"s3:GetObject","principal":"arn:aws:iam::111122223333:user/a"},
             "identityPolicies":[{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}]},
            {"name":"typo","request":{"action":"s3:GetObject"},"identityPolicy":[]},
            {"name":"bad operator","request":{"action":"s3:GetObject","principal":"arn:aws:iam::111122223333:user/a"},
             "identityPolicies":[{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringLikee":{"a":"b"}}}}]},
            {"name":"also fine","request":{"action":"s3:PutObject","principal":"arn:aws:iam::111122223333:user/a"},
             "identityPolicies":[{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}],
             "expected":{"decision":"ImplicitDeny"}}]"#,
    );
    let out = breakglass(&[
        "policy",
        "eval",
        "--case",
        path_str(&case),
        "--format",
        "jsonl",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{}", stdout(&out));
    assert_eq!(lines[0]["name"], "fine");
    assert_eq!(lines[0]["decision"], "Allow");
    assert_eq!(lines[1]["name"], "typo");
    assert!(lines[1].get("decision").is_none());
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .contains("/1 (`typo`): unknown field `identityPolicy`"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2]["name"], "bad operator");
    assert!(
        lines[2]["error"].as_str().unwrap().contains(
            "/2/identityPolicies/0/Statement/Condition/StringLikee: unknown condition operator `StringLikee`"
        ),
        "{}",
        lines[2]
    );
    assert_eq!(lines[3]["decision"], "ImplicitDeny");
    assert_eq!(lines[3]["passed"], true);

    let out = breakglass(&[
        "policy",
        "eval",
        "--case",
        path_str(&case),
        "--format",
        "table",
    ]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(text.contains("ERROR -            typo"), "{text}");
    assert!(
        text.contains("4 cases: 1 passed, 0 failed, 2 could not be evaluated"),
        "{text}"
    );
}

#[test]
fn lint_exits_2_with_located_errors_on_malformed_input() {
    let cases = [
        (
            "syntax.json",
            "{\n  \"Statement\": [\n    {\"Effect\": \"Allow\" \"Action\": \"*\"}\n  ]\n}",
            "invalid JSON at line 3, column 24",
        ),
        (
            "types.json",
            r#"{"Statement":{"Effect":true,"Action":["s3:GetObject",7],"Resource":"*"}}"#,
            "/Statement/Action/1: expected a string, found a number",
        ),
        (
            "unknown.json",
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Conditions":{}}}"#,
            "[unknown-element] /Statement/Conditions: unknown element `Conditions` (hint: did you mean `Condition`?)",
        ),
        (
            "empty.json",
            r#"{"Version":"2012-10-17","Statement":[]}"#,
            "[empty-statement-list] /Statement: `Statement` has no statements",
        ),
        (
            "empty-statement.json",
            r#"{"Version":"2012-10-17","Statement":[{}]}"#,
            "/Statement/0: missing required element `Effect`",
        ),
        (
            "not-json.json",
            "Version: 2012-10-17",
            "invalid JSON at line 1, column 1",
        ),
    ];
    for (name, text, needle) in cases {
        let out = breakglass(&[
            "policy",
            "lint",
            path_str(&file(name, text)),
            "--type",
            "identity",
        ]);
        assert_eq!(code(&out), 2, "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{name}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{name}");
    }
}

#[test]
fn lint_exits_2_on_a_one_megabyte_policy() {
    let mut text = String::from(r#"{"Version":"2012-10-17","Statement":["#);
    while text.len() < 1_048_576 {
        text.push_str(
            r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/x"},"#,
        );
    }
    text.push_str(r#"{"Effect":"Deny","Action":"*","Resource":"*"}]}"#);
    let out = breakglass(&[
        "policy",
        "lint",
        path_str(&file("huge.json", &text)),
        "--type",
        "session",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out)
            .contains("huge.json` /: [input-too-large] policy text is larger than 131072 bytes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn lint_exits_2_on_a_missing_file_or_unknown_type() {
    let out = breakglass(&[
        "policy",
        "lint",
        "/nonexistent/policy.json",
        "--type",
        "identity",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("cannot open `/nonexistent/policy.json`"),
        "{}",
        stderr(&out)
    );
    let ok = file(
        "ok.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
    );
    let out = breakglass(&["policy", "lint", path_str(&ok), "--type", "idenity"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("unknown policy type `idenity`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn lint_exits_1_on_error_findings_and_0_on_warnings_only() {
    let dup = file(
        "dup-sid.json",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},
            {"Sid":"A","Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#,
    );
    let out = breakglass(&["policy", "lint", path_str(&dup), "--type", "identity"]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("error [duplicate-sid] /Statement/1/Sid"),
        "{}",
        stdout(&out)
    );

    let warn = file(
        "warn.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#,
    );
    let out = breakglass(&[
        "policy",
        "lint",
        path_str(&warn),
        "--type",
        "identity",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let findings: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(findings.iter().any(|f| f["code"] == "allow-with-not-action"
        && f["pointer"] == "/Statement/NotAction"
        && f["severity"] == "warning"));
}

#[test]
fn lint_with_the_real_catalog_reports_unknown_actions() {
    let Some(data) = breakglass_testkit::shared_data("iam-data/data") else {
        return;
    };
    let p = file(
        "typo.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:GetObjekt"],"Resource":"*"}}"#,
    );
    let out = breakglass(&[
        "policy",
        "lint",
        path_str(&p),
        "--type",
        "session",
        "--catalog",
        path_str(&data),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stdout(&out).contains("error [unknown-action] /Statement/Action/0: `s3:GetObjekt` is not an action of `s3` (hint: did you mean `s3:GetObject`?)"), "{}", stdout(&out));
    let out = breakglass(&[
        "policy",
        "actions",
        path_str(&file(
            "read.json",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject*","Resource":"*"}}"#,
        )),
        "--catalog",
        path_str(&data),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("everywhere s3:GetObjectAcl"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn size_checks_the_type_limit_and_inline_totals() {
    let small = file(
        "small.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
    );
    let out = breakglass(&["policy", "size", path_str(&small), "--type", "session"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains(
            "94 of 2048 characters (every character counts), within the session policy limit"
        ),
        "{}",
        stdout(&out)
    );

    let resources: Vec<String> = (0..60)
        .map(|i| format!("\"arn:aws:s3:::evidence-bucket-{i:03}/*\""))
        .collect();
    let big_text = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":[{}]}}}}"#,
        resources.join(",\n  ")
    );
    let big = file("big.json", &big_text);
    let out = breakglass(&["policy", "size", path_str(&big), "--type", "session"]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("big.json` is 2"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("over the session policy limit of 2048 characters"),
        "{}",
        stdout(&out)
    );

    // The same text as a role inline policy: whitespace is not counted and the role limit is 10,240.
    let out = breakglass(&[
        "policy",
        "size",
        path_str(&big),
        path_str(&small),
        "--type",
        "identity",
        "--limit",
        "role-inline",
    ]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("2 policies together:"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn every_policy_command_has_help() {
    for sub in ["eval", "lint", "size", "actions", "generate"] {
        let out = breakglass(&["policy", sub, "--help"]);
        assert_eq!(code(&out), 0);
        assert!(stdout(&out).len() > 200, "{sub}: {}", stdout(&out));
    }
}

/// `breakglass ... | head -1`: when the reader of standard output goes away, the command
/// ends quietly with exit 0, as other Unix tools do, instead of "Broken pipe" and exit 2.
/// (`policy actions` of `Allow *` prints about 900 KB, far more than a pipe holds.)
#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    let Some(data) = breakglass_testkit::shared_data("iam-data/data") else {
        return;
    };
    let p = file(
        "everything.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
    );
    let (first, out) = crate::support::first_line_then_close(&[
        "policy".as_ref(),
        "actions".as_ref(),
        path_str(&p).as_ref(),
        "--catalog".as_ref(),
        data.as_os_str(),
    ]);
    assert!(!first.is_empty());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "nothing said about the closed pipe");
}
