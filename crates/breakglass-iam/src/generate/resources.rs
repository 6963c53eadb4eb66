//! Which of a call's ARNs an action can be narrowed to: only when the catalog gives the
//! action one resource type (or a type and its S3 access-point alias) and the ARN has that
//! type's format. An action authorized against several resources at once (`RunInstances`,
//! `AttachVolume`) keeps `*`: naming one of them would deny the call.

use regex::Regex;

use crate::catalog::Catalog;

/// A placeholder of an ARN format whose value may hold `/` (object keys, paths, names with a
/// path): the others stop at `/`, so a bucket's format does not match an object's ARN.
fn spans_slashes(placeholder: &str) -> bool {
    let lower = placeholder.to_ascii_lowercase();
    lower.contains("path")
        || matches!(
            lower.as_str(),
            "objectname" | "parameternamewithoutleadingslash" | "secretid" | "key"
        )
}

/// The ARN format as an anchored regular expression.
fn format_regex(format: &str) -> Option<Regex> {
    let mut pattern = String::from("^");
    let mut rest = format;
    while let Some((literal, after)) = rest.split_once("${") {
        pattern.push_str(&regex::escape(literal));
        let (name, tail) = after.split_once('}')?;
        pattern.push_str(match name {
            "Partition" => "aws[a-z-]*",
            "Region" | "Account" => "[^:]*",
            n if spans_slashes(n) => "[^:]+",
            _ => "[^:/]+",
        });
        rest = tail;
    }
    pattern.push_str(&regex::escape(rest));
    pattern.push('$');
    Regex::new(&pattern).ok()
}

/// The resource types `action` can be narrowed over: one type, or one type and the S3
/// access-point form of it. `None` when the action has no resource type or several.
fn narrowable_types(catalog: &Catalog, action: &str) -> Option<Vec<String>> {
    let found = catalog.action(action)?;
    let types = &found.info.resource_types;
    let aliases = |a: &str, b: &str| {
        let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
        b == format!("accesspoint{a}") || (a == "bucket" && b == "accesspoint")
    };
    match types.as_slice() {
        [one] => Some(vec![one.clone()]),
        [a, b] if aliases(a, b) || aliases(b, a) => Some(vec![a.clone(), b.clone()]),
        _ => None,
    }
}

/// The ARNs of `arns` that `action` (`service:Action`) can be narrowed to; empty when none
/// can (the action keeps `*`).
pub fn narrow(catalog: &Catalog, action: &str, arns: &[String]) -> Vec<String> {
    let Some(types) = narrowable_types(catalog, action) else {
        return Vec::new();
    };
    let Some(service) = action
        .split_once(':')
        .and_then(|(prefix, _)| catalog.service(prefix))
    else {
        return Vec::new();
    };
    let formats: Vec<Regex> = types
        .iter()
        .filter_map(|t| service.arn_format(t))
        .filter_map(format_regex)
        .collect();
    arns.iter()
        .filter(|arn| formats.iter().any(|f| f.is_match(arn)))
        .cloned()
        .collect()
}

/// An ARN as a policy `Resource` that matches exactly it: `*`, `?` and `$` are written as
/// the policy variables `${*}`, `${?}` and `${$}`, so an object named `*` does not become a
/// wildcard.
pub fn literal_resource(arn: &str) -> String {
    let mut out = String::with_capacity(arn.len());
    for c in arn.chars() {
        match c {
            '*' => out.push_str("${*}"),
            '?' => out.push_str("${?}"),
            '$' => out.push_str("${$}"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_matches_its_own_arns_only() {
        let bucket = format_regex("arn:${Partition}:s3:::${BucketName}").unwrap();
        let object = format_regex("arn:${Partition}:s3:::${BucketName}/${ObjectName}").unwrap();
        assert!(bucket.is_match("arn:aws:s3:::evidence"));
        assert!(!bucket.is_match("arn:aws:s3:::evidence/a/b"));
        assert!(object.is_match("arn:aws:s3:::evidence/a/b"));
        assert!(!object.is_match("arn:aws:s3:::evidence"));
        let instance =
            format_regex("arn:${Partition}:ec2:${Region}:${Account}:instance/${InstanceId}")
                .unwrap();
        assert!(instance.is_match("arn:aws:ec2:us-east-1:111122223333:instance/i-0abc"));
        assert!(!instance.is_match("arn:aws:ec2:us-east-1:111122223333:volume/vol-1"));
    }

    #[test]
    fn wildcards_in_names_stay_literal() {
        assert_eq!(
            literal_resource("arn:aws:s3:::b/*?${x}"),
            "arn:aws:s3:::b/${*}${?}${$}{x}"
        );
    }
}
