//! The server's layering, checked: handlers (the `api` and `console` modules) translate HTTP
//! and call the use cases of `breakglass_core::app`; they never name the store, reach for
//! the broker, or call the store's methods, so a rule cannot hide in a handler. `api` and
//! `console` are siblings: neither imports the other.

use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// What a handler module must not say, and why.
const FORBIDDEN: &[(&str, &str)] = &[
    ("SqlStore", "names the store type"),
    ("breakglass_store", "imports the store crate"),
    (".store()", "reaches for the store"),
    (".broker()", "reaches for the broker"),
    ("Broker<", "names the broker"),
];

#[test]
fn no_handler_module_names_the_store_or_the_broker() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut checked = 0;
    for module in ["api", "console"] {
        for file in sources(&src.join(module)) {
            checked += 1;
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                for (needle, why) in FORBIDDEN {
                    if line.contains(needle) {
                        found.push(format!(
                            "{}:{}: {why}: {}",
                            file.display(),
                            n + 1,
                            line.trim()
                        ));
                    }
                }
            }
        }
    }
    assert!(
        checked >= 10,
        "only {checked} handler files found under {}",
        src.display()
    );
    assert!(
        found.is_empty(),
        "handlers must call the use cases only:\n{}",
        found.join("\n")
    );
}

#[test]
fn api_and_console_do_not_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for (module, other) in [("api", "crate::console"), ("console", "crate::api")] {
        for file in sources(&src.join(module)) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                if line.contains(other) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "api and console are siblings:\n{}",
        found.join("\n")
    );
}

/// The check above must be able to fail: a line that reaches for the store is caught.
#[test]
fn the_layer_check_catches_a_handler_that_reaches_for_the_store() {
    let line = "    let rows = s.app.broker().store().audit_rows(0, 10).await?;";
    let caught: Vec<&str> = FORBIDDEN
        .iter()
        .filter(|(needle, _)| line.contains(needle))
        .map(|(_, why)| *why)
        .collect();
    assert_eq!(caught, ["reaches for the store", "reaches for the broker"]);
}
