//! Tidy checks: the architecture invariants of ARCHITECTURE.md, checked rather than described.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The crates that must stay pure: no I/O, no clock, no async runtime, no SDK, no SQL.
const PURE_CRATES: &[&str] = &["breakglass-iam", "breakglass-trail", "breakglass-core"];

/// Packages a pure crate must never pull in, by name prefix.
const FORBIDDEN_IN_PURE: &[&str] = &[
    "tokio",
    "sqlx",
    "aws-sdk-",
    "aws-config",
    "aws-smithy-",
    "axum",
    "hyper",
    "reqwest",
    "mio",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/<name> sits two levels below the workspace root")
        .to_path_buf()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// The set of packages `cargo tree` reports for a crate's normal (non-dev, non-build) graph.
fn normal_dependencies(krate: &str) -> Vec<String> {
    let out = Command::new(cargo())
        .current_dir(workspace_root())
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "-p",
            krate,
        ])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {krate} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn pure_crates_pull_in_no_runtime_sdk_sql_or_http() {
    for krate in PURE_CRATES {
        let deps = normal_dependencies(krate);
        assert!(
            deps.iter().any(|d| d == krate),
            "cargo tree for {krate} did not list the crate itself: {deps:?}"
        );
        let bad: Vec<&String> = deps
            .iter()
            .filter(|d| FORBIDDEN_IN_PURE.iter().any(|f| d.starts_with(f)))
            .collect();
        assert!(
            bad.is_empty(),
            "{krate} depends on {bad:?}; pure crates must not (see ARCHITECTURE.md)"
        );
    }
}

#[test]
fn the_dependency_listing_sees_transitive_packages() {
    // The check above is only worth something if `cargo tree` reports the whole graph, not
    // just direct dependencies: serde reaches the binary only through the library crates.
    let deps = normal_dependencies("breakglass");
    assert!(deps.iter().any(|d| d == "serde"), "{deps:?}");
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Source text with `//` comments removed, so prose about the clock does not trip the check.
fn code_only(src: &str) -> String {
    src.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Tokens that mean I/O, the wall clock, the environment or threads in a pure crate.
const IMPURE_TOKENS: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "std::env",
    "std::thread",
    "SystemTime",
    "Instant",
    "now_utc",
    "now_local",
    "File::",
    "stdin()",
    "stdout()",
    "stderr()",
    "println!",
    "eprintln!",
    "print!",
    "eprint!",
    "tokio",
    "thread_rng",
    "OsRng",
    "getrandom",
];

#[test]
fn pure_crates_do_no_io_and_never_read_the_clock() {
    let root = workspace_root();
    for krate in PURE_CRATES {
        let mut files = Vec::new();
        rust_files(&root.join("crates").join(krate).join("src"), &mut files);
        assert!(!files.is_empty(), "no sources found for {krate}");
        for file in files {
            let src = std::fs::read_to_string(&file).expect("source is readable");
            let code = code_only(&src);
            for token in IMPURE_TOKENS {
                assert!(
                    !code.contains(token),
                    "{} uses `{token}`: pure crates take time, randomness and data from their callers",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn every_source_file_says_why_it_exists() {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    let missing: Vec<String> = files
        .iter()
        .filter(|f| f.components().any(|c| c.as_os_str() == "src"))
        .filter(|f| {
            let src = std::fs::read_to_string(f).unwrap_or_default();
            !src.trim_start().starts_with("//!")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` doc comment: {missing:?}"
    );
}

/// Macros that write to stdout/stderr directly, bypassing the log (its levels, its format,
/// its request ids).
const PRINT_MACROS: &[&str] = &["eprintln!", "println!", "eprint!", "print!", "dbg!"];

#[test]
fn the_server_logs_through_tracing_and_never_prints() {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root.join("crates/breakglass-server/src"), &mut files);
    assert!(!files.is_empty(), "no sources found for breakglass-server");
    let mut offenders = Vec::new();
    for file in &files {
        let src = std::fs::read_to_string(file).expect("source is readable");
        for (n, line) in code_only(&src).lines().enumerate() {
            if let Some(m) = PRINT_MACROS.iter().find(|m| line.contains(*m)) {
                offenders.push(format!("{}:{}: `{m}`", file.display(), n + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "the server logs with `tracing` events, never by printing: {offenders:#?}"
    );
}
