//! Scan throughput on the invictus CloudTrail dataset, replicated in memory.
//!
//! `cargo bench -p breakglass-trail` reports bytes per second for the built-in rule pack
//! with and without deduplication, for one pattern, and for gzip input. The whole-program
//! benchmark against `jq` and `zcat` is `bench/scan.sh`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr,
    clippy::indexing_slicing,
    reason = "benchmark setup fails loudly"
)]

use std::io::Write;

use breakglass_trail::dedupe::{Dedupe, KeepAll};
use breakglass_trail::rules::{RuleSet, builtin};
use breakglass_trail::scan::{ScanOptions, Scanner};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Every S3 object of the dataset, `copies` times over, with event IDs made unique per copy.
fn dataset(copies: usize) -> Option<Vec<Vec<u8>>> {
    let dir = breakglass_testkit::shared_data("cloudtrail/invictus-aws-dataset/CloudTrail")?;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let originals: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let mut out = Vec::new();
    for copy in 0..copies {
        let prefix = format!("{copy:08x}");
        for data in &originals {
            let mut d = data.clone();
            let key = b"\"eventID\":\"";
            let mut at = 0;
            while let Some(k) = memchr::memmem::find(&d[at..], key) {
                let start = at + k + key.len();
                d[start..start + 8].copy_from_slice(prefix.as_bytes());
                at = start;
            }
            out.push(d);
        }
    }
    Some(out)
}

fn bench(c: &mut Criterion) {
    let Some(objects) = dataset(8) else {
        eprintln!("skipped: the invictus dataset is absent");
        return;
    };
    let bytes: u64 = objects.iter().map(|o| o.len() as u64).sum();
    let builtin =
        RuleSet::new(builtin::rules(&builtin::BuiltinParams::default()).unwrap()).unwrap();
    let one = RuleSet::new(
        breakglass_trail::rules::load_toml(
            "bench",
            r#"version = 1
[[rule]]
id = "assume-role"
title = "AssumeRole"
severity = "info"
pattern = '{ $.eventName = "AssumeRole" && $.requestParameters.roleArn = "*stratus*" }'
"#,
        )
        .unwrap(),
    )
    .unwrap();
    let gz: Vec<Vec<u8>> = objects
        .iter()
        .map(|o| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(o).unwrap();
            e.finish().unwrap()
        })
        .collect();

    let mut group = c.benchmark_group("scan");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(20);
    let run = |rules: &RuleSet, inputs: &[Vec<u8>], dedupe: bool| {
        let mut found = 0u64;
        let mut on_finding = |_f: breakglass_trail::scan::Finding<'_>| found += 1;
        let mut on_skip = |_e| {};
        if dedupe {
            let mut s = Scanner::new(rules, Dedupe::default(), ScanOptions::default());
            for i in inputs {
                s.scan(&i[..], &mut on_finding, &mut on_skip).unwrap();
            }
        } else {
            let mut s = Scanner::new(rules, KeepAll, ScanOptions::default());
            for i in inputs {
                s.scan(&i[..], &mut on_finding, &mut on_skip).unwrap();
            }
        }
        found
    };
    group.bench_function("builtin rules, dedupe", |b| {
        b.iter(|| run(&builtin, &objects, true))
    });
    group.bench_function("builtin rules, no dedupe", |b| {
        b.iter(|| run(&builtin, &objects, false))
    });
    group.bench_function("one pattern", |b| b.iter(|| run(&one, &objects, true)));
    group.bench_function("builtin rules, gzip", |b| {
        b.iter(|| run(&builtin, &gz, true))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
