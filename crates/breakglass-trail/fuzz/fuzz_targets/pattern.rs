//! Fuzz target: the filter-pattern parser, printer and matcher.
//!
//! Any text either fails to parse with located problems or parses to a pattern whose
//! canonical form parses back to the same tree; matching never panics.

#![no_main]

use breakglass_trail::FilterPattern;
use libfuzzer_sys::fuzz_target;

const EVENT: &[u8] = br#"{"eventName":"AssumeRole","a":{"b":[1,"x",null,true,{"c":"d"}]},"n":-1.5e3,"s":"caf\u00e9","e":""}"#;
const LINE: &[u8] = b"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] \"GET /x HTTP/1.0\" 404 1534";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match FilterPattern::parse(text) {
        Ok(pattern) => {
            let printed = pattern.to_string();
            // The canonical form may be longer than the source; within the limit it must
            // parse back to the same tree.
            if printed.chars().count() <= breakglass_trail::pattern::MAX_PATTERN_CHARS {
                let again = FilterPattern::parse(&printed)
                    .unwrap_or_else(|e| panic!("`{printed}` (from `{text}`) does not parse: {e}"));
                assert_eq!(again, pattern, "`{text}` printed as `{printed}`");
            }
            let _ = pattern.matches_message(EVENT);
            let _ = pattern.matches_message(LINE);
            let _ = pattern.matches_message(data);
        }
        Err(e) => {
            assert!(!e.problems().is_empty());
            let _ = e.render();
        }
    }
});
