//! Property tests: the printer's output parses back to the same tree, and nothing the parser
//! or matcher is given makes it panic.

use breakglass_trail::{Event, FilterPattern};
use proptest::prelude::*;

fn ident() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_-]{0,6}"
}

fn selector() -> impl Strategy<Value = String> {
    let plain = prop_oneof![
        ident().prop_map(|n| format!(".{n}")),
        (0u32..5).prop_map(|i| format!("[{i}]")),
        "[a-z. ]{1,6}".prop_map(|k| format!(".['{k}']")),
        "[a-z.']{1,6}".prop_map(|k| format!("[\"{k}\"]")),
    ];
    let wild = prop_oneof![Just("[*]".to_owned()), Just(".*".to_owned())];
    (
        ident(),
        prop::collection::vec(plain, 0..3),
        prop::option::weighted(0.15, wild),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(first, mut rest, wild, at)| {
            if let Some(w) = wild {
                let i = at.index(rest.len() + 1);
                rest.insert(i, w);
            }
            format!("$.{first}{}", rest.concat())
        })
}

fn number() -> impl Strategy<Value = String> {
    "[+-]?[0-9]{1,3}(\\.[0-9]{1,2})?([eE][+-]?[0-9])?"
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => ("\\*?", "[a-zA-Z0-9 .:/_@=-]{0,8}", "\\*?").prop_map(|(a, b, c)| format!("\"{a}{b}{c}\"")),
        2 => number(),
        2 => "[A-Za-z][A-Za-z0-9.]{0,6}\\*?",
        1 => prop_oneof![Just("%^ab|cd$%"), Just("%[0-9]{1,3}%"), Just("%a.b\\.c%"), Just("%\\d+\\s%")]
            .prop_map(str::to_owned),
    ]
}

fn condition() -> impl Strategy<Value = String> {
    let eq = prop_oneof![Just("="), Just("!=")];
    let ord = prop_oneof![Just("<"), Just("<="), Just(">"), Just(">=")];
    prop_oneof![
        3 => (selector(), eq, value()).prop_map(|(s, o, v)| format!("{s} {o} {v}")),
        1 => (selector(), ord, number()).prop_map(|(s, o, v)| format!("{s}{o}{v}")),
        1 => (selector(), prop_oneof![Just("IS NULL"), Just("IS TRUE"), Just("IS FALSE"), Just("NOT EXISTS")])
            .prop_map(|(s, t)| format!("{s} {t}")),
    ]
}

fn expr() -> impl Strategy<Value = String> {
    condition().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| v.join(" && ")),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| v.join(" || ")),
            inner.prop_map(|e| format!("({e})")),
        ]
    })
}

fn terms() -> impl Strategy<Value = String> {
    let term = (
        prop_oneof![Just(""), Just("?"), Just("-")],
        prop_oneof![
            "[A-Za-z0-9_]{1,8}",
            "[A-Za-z0-9 :/.-]{0,8}".prop_map(|p| format!("\"{p}\""))
        ],
    )
        .prop_map(|(k, t)| format!("{k}{t}"));
    prop::collection::vec(term, 1..5).prop_map(|v| v.join(" "))
}

fn delimited() -> impl Strategy<Value = String> {
    let op = prop_oneof![Just("="), Just("!="), Just(">"), Just("<=")];
    let field = prop_oneof![
        1 => Just("...".to_owned()),
        2 => "[a-z_][a-z0-9_]{0,5}",
        2 => ("[a-z_][a-z0-9_]{0,5}", op.clone(), number(), prop::option::of((op, number())))
            .prop_map(|(n, o, v, more)| match more {
                Some((o2, v2)) => format!("{n} {o} {v} || {n}{o2}{v2}"),
                None => format!("{n}{o}{v}"),
            }),
    ];
    prop::collection::vec(field, 1..5).prop_map(|v| format!("[{}]", v.join(", ")))
}

fn pattern_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => expr().prop_map(|e| format!("{{ {e} }}")),
        1 => terms(),
        1 => delimited(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn printing_then_parsing_gives_the_same_tree(text in pattern_text()) {
        // Generated patterns can exceed AWS's limits (regexes, wildcard selectors): those
        // are refused, which is correct, and say nothing about the printer.
        let Ok(parsed) = FilterPattern::parse(&text) else {
            return Ok(());
        };
        let printed = parsed.to_string();
        let again = FilterPattern::parse(&printed)
            .map_err(|e| TestCaseError::fail(format!("`{printed}` does not parse: {e}")))?;
        prop_assert_eq!(&again, &parsed, "`{}` printed as `{}`", text, printed);
        prop_assert_eq!(again.to_string(), printed);
    }

    #[test]
    fn arbitrary_text_never_panics_the_parser(text in "\\PC{0,120}") {
        let _ = FilterPattern::parse(&text);
    }

    #[test]
    fn arbitrary_messages_never_panic_the_matcher(text in pattern_text(), message in "\\PC{0,200}") {
        if let Ok(p) = FilterPattern::parse(&text) {
            let _ = p.matches_message(message.as_bytes());
            if let Ok(e) = Event::parse(message.as_bytes()) {
                let _ = p.matches(&e);
            }
        }
    }
}

#[test]
fn most_generated_patterns_are_valid() {
    // Guard against a generator that only produces rejected patterns.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let valid = (0..500)
        .filter(|_| {
            let text = pattern_text().new_tree(&mut runner).unwrap().current();
            FilterPattern::parse(&text).is_ok()
        })
        .count();
    assert!(valid > 350, "{valid} of 500 generated patterns parse");
}
