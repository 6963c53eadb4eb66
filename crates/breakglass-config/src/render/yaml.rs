//! A small YAML emitter for JSON values, for CloudFormation templates.
//!
//! Block style, two-space indent, keys in the value's order. A string is written plain only
//! when no YAML 1.1 or 1.2 reader could take it for anything but that string; otherwise it is
//! double-quoted with JSON escapes (a JSON string is a valid YAML double-quoted scalar), so
//! `2012-10-17`, `true`, `*` and `on` stay strings.

use serde_json::Value;

/// Renders `value` as a YAML document.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
    out
}

/// Words some YAML version reads as booleans or null.
const RESERVED: &[&str] = &[
    "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
];

fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    first.is_ascii_alphabetic()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | '*'))
        && !s.ends_with(':')
        && !s.contains(": ")
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str())
}

fn string_text(s: &str) -> String {
    if plain_ok(s) {
        s.to_owned()
    } else {
        Value::String(s.to_owned()).to_string()
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string_text(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn is_block(value: &Value) -> bool {
    match value {
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => false,
    }
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, level: usize) {
    let mut first = true;
    for (key, value) in map {
        // The first key follows its sequence dash (or starts the document) on the same line.
        if !first {
            indent(out, level);
        }
        first = false;
        out.push_str(&string_text(key));
        out.push(':');
        write_value(out, value, level + 1);
    }
}

fn write_seq(out: &mut String, items: &[Value], level: usize) {
    let mut first = true;
    for item in items {
        if !first {
            indent(out, level);
        }
        first = false;
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => write_map(out, map, level + 1),
            Value::Array(inner) if !inner.is_empty() => write_seq(out, inner, level + 1),
            scalar => {
                out.push_str(&scalar_text(scalar));
                out.push('\n');
            }
        }
    }
}

fn write_value(out: &mut String, value: &Value, level: usize) {
    if is_block(value) {
        out.push('\n');
        indent(out, level);
        match value {
            Value::Object(map) => write_map(out, map, level),
            Value::Array(items) => write_seq(out, items, level),
            _ => {}
        }
    } else {
        out.push(' ');
        out.push_str(&scalar_text(value));
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_maps_and_sequences_are_block_style() {
        let doc = json!({
            "Resources": {
                "Role": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {
                        "Policies": [
                            {"PolicyName": "A", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "*"], "Resource": "*"}]}}
                        ],
                        "MaxSessionDuration": 3600,
                        "Tags": []
                    }
                }
            }
        });
        let expected = "\
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: A
          PolicyDocument:
            Version: \"2012-10-17\"
            Statement:
              - Effect: Allow
                Action:
                  - s3:GetObject
                  - \"*\"
                Resource: \"*\"
      MaxSessionDuration: 3600
      Tags: []
";
        assert_eq!(to_yaml(&doc), expected);
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        for s in [
            "true",
            "No",
            "on",
            "2012-10-17",
            "3600",
            "",
            "a: b",
            "x:",
            "*Glass*",
            "{{resolve}}",
            "a b",
            "#x",
        ] {
            let text = string_text(s);
            assert!(text.starts_with('"'), "`{s}` written as {text}");
        }
        for s in [
            "AWS::IAM::Role",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "s3:Get*",
        ] {
            assert_eq!(string_text(s), s);
        }
    }
}
