//! Bad input gets a clear, located error and never a panic: malformed JSON, wrong types,
//! unknown elements, empty statements, oversized and deeply nested documents.

use breakglass_iam::{ErrorKind, MAX_POLICY_BYTES, PolicyErrors, PolicyType, parse};

fn errors(text: &str) -> PolicyErrors {
    parse(text, PolicyType::Identity).expect_err("the policy should be rejected")
}

fn rendered(text: &str) -> Vec<String> {
    errors(text).iter().map(ToString::to_string).collect()
}

#[test]
fn malformed_json_names_line_and_column() {
    let e = errors(
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [ {\"Effect\": \"Allow\",} ]\n}",
    );
    assert_eq!(e.0.len(), 1);
    match &e.0[0].kind {
        ErrorKind::Json { line, column, .. } => assert_eq!((*line, *column), (3, 37)),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.0[0].kind.code(), "invalid-json");
}

#[test]
fn empty_and_non_object_documents() {
    assert!(rendered("")[0].starts_with("invalid JSON at line 1"));
    assert_eq!(rendered("[]"), ["expected a policy object, found an array"]);
    assert_eq!(
        rendered("\"Allow\""),
        ["expected a policy object, found a string"]
    );
    assert_eq!(rendered("{}"), ["missing required element `Statement`"]);
}

#[test]
fn wrong_types_are_located() {
    let text = r#"{"Version": 2012, "Statement": [{"Sid": 1, "Effect": true, "Action": [1, "s3:GetObject"], "Resource": {"arn": "x"},
        "Condition": {"StringEquals": "aws:username"}}]}"#;
    assert_eq!(
        rendered(text),
        [
            "/Version: expected a string, found a number",
            "/Statement/0/Sid: expected a string, found a number",
            "/Statement/0/Effect: expected `Allow` or `Deny`, found a boolean",
            "/Statement/0/Action/0: expected a string, found a number",
            "/Statement/0/Resource: expected a string or an array of strings, found an object",
            "/Statement/0/Condition/StringEquals: expected an object of condition keys, found a string",
        ]
    );
}

#[test]
fn unknown_elements_suggest_the_right_name() {
    let e = errors(
        r#"{"Version":"2012-10-17","Statment":[],"Statement":{"Efect":"Allow","Action":"*","Resource":"*"}}"#,
    );
    let got: Vec<(String, String)> = e.iter().map(|e| (e.to_string(), e.kind.hint())).collect();
    assert_eq!(
        got,
        [
            (
                "/Statment: unknown element `Statment`".to_owned(),
                "did you mean `Statement`?".to_owned()
            ),
            (
                "/Statement/Efect: unknown element `Efect`".to_owned(),
                "did you mean `Effect`?".to_owned()
            ),
            (
                "/Statement: missing required element `Effect`".to_owned(),
                "add `Effect`".to_owned()
            ),
        ]
    );
}

#[test]
fn empty_statements_lists_and_values() {
    assert_eq!(
        rendered(r#"{"Statement":[]}"#),
        ["/Statement: `Statement` has no statements"]
    );
    assert_eq!(
        rendered(
            r#"{"Statement":[{"Effect":"Allow","Action":[],"Resource":"*","Condition":{"StringEquals":{}}}]}"#
        ),
        [
            "/Statement/0/Action: empty action list",
            "/Statement/0/Condition/StringEquals: empty condition block"
        ]
    );
}

#[test]
fn a_one_megabyte_policy_is_refused_with_its_size() {
    let statement = r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/prefix/object"},"#;
    let mut text = String::from(r#"{"Version":"2012-10-17","Statement":["#);
    while text.len() < 1_048_576 {
        text.push_str(statement);
    }
    text.push_str(r#"{"Effect":"Deny","Action":"*","Resource":"*"}]}"#);
    let e = errors(&text);
    assert_eq!(e.0.len(), 1);
    assert!(e.0[0].pointer.is_root());
    assert_eq!(
        e.0[0].kind,
        ErrorKind::InputTooLarge {
            size: text.len(),
            limit: MAX_POLICY_BYTES
        }
    );
    assert!(
        e.to_string()
            .contains(&format!("policy text is {} bytes", text.len()))
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let text = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let e = errors(&text);
    assert!(e.to_string().contains("recursion limit exceeded"), "{e}");
    let text = format!(
        r#"{{"Statement":{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}{}}}}}"#,
        "{\"a\":".repeat(200),
        "1}".repeat(200)
    );
    assert!(parse(&text, PolicyType::Identity).is_err());
}

#[test]
fn characters_iam_rejects_are_located() {
    assert_eq!(
        rendered(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/✓"}}"#
        ),
        ["/Statement/Resource: character U+2713 is not allowed in IAM policy documents"]
    );
    // Resource-based policies are not stored by IAM and take any character.
    assert!(parse(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/✓"}}"#, PolicyType::Resource).is_ok());
}

#[test]
fn every_error_has_a_code_and_a_hint() {
    let text = r#"{"Version":"1999","Id":1,"Statement":[{"Effect":"Maybe","Principal":{"Robot":"x"},"Action":"x","NotAction":"y","Resource":"r",
        "Condition":{"Nope":{"k":"v"},"NullIfExists":{"k":"true"},"NumericEquals":{"k":"x"},"StringLike":{"k":"${oops"}}}]}"#;
    for e in &errors(text) {
        assert!(!e.kind.code().is_empty());
        assert!(!e.kind.hint().is_empty());
        assert!(
            !e.kind.to_string().ends_with('.'),
            "messages have no final period: {e}"
        );
    }
}
