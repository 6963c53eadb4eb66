//! Fuzz target: the readers and the scanner on arbitrary bytes (plain or gzip).
//!
//! Whatever the input, reading ends with records and/or an error, never a panic, and every
//! record handed out is a valid JSON object.

#![no_main]

use breakglass_trail::Event;
use breakglass_trail::dedupe::Dedupe;
use breakglass_trail::read::{Limits, ReadStats, read_records};
use breakglass_trail::rules::{RuleSet, builtin};
use breakglass_trail::scan::{ScanOptions, Scanner};
use breakglass_trail::session::{Linker, TimelineFilter};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static RULES: OnceLock<RuleSet> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    // Tiny buffers so records straddle reads and hit the size limits.
    let limits = Limits {
        max_record_bytes: 2048,
        max_decompressed_bytes: 1 << 20,
        chunk_bytes: 32,
    };
    let mut stats = ReadStats::default();
    let mut linker = Linker::new(TimelineFilter {
        session_name: Some("s".to_owned()),
        ..TimelineFilter::default()
    });
    let _ = read_records(data, &limits, &mut stats, |item| {
        if let Ok(record) = item {
            let event =
                Event::parse(record.raw()).expect("records handed out are valid JSON objects");
            linker.observe(&event);
        }
    });
    let _ = linker.finish();

    let rules = RULES.get_or_init(|| {
        RuleSet::new(builtin::rules(&builtin::BuiltinParams::default()).expect("built-in rules"))
            .expect("rule set")
    });
    let options = ScanOptions {
        limits,
        ..ScanOptions::default()
    };
    let mut scanner = Scanner::new(rules, Dedupe::new(64), options);
    let _ = scanner.scan(data, &mut |_| {}, &mut |_| {});
});
