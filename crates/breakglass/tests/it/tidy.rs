//! Tidy checks: the architecture invariants of ARCHITECTURE.md, checked rather than described.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The crates that must stay pure: no I/O, no clock, no async runtime, no SDK, no SQL.
const PURE_CRATES: &[&str] = &[
    "breakglass-iam",
    "breakglass-trail",
    "breakglass-core",
    "breakglass-config",
    "breakglass-api",
];

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
    dependencies(krate, "normal")
}

/// The set of packages `cargo tree` reports for a crate over the given kinds of edges
/// (`normal`, `normal,dev`, ...).
fn dependencies(krate: &str, edges: &str) -> Vec<String> {
    let out = Command::new(cargo())
        .current_dir(workspace_root())
        .args([
            "tree",
            "--offline",
            "-e",
            edges,
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
fn the_domain_does_not_depend_on_access_as_code() {
    // breakglass-config builds on the domain and hands it a `Catalog`; the domain never
    // reaches back, not even from its own tests or benches.
    let config = normal_dependencies("breakglass-config");
    assert!(
        config.iter().any(|d| d == "breakglass-core"),
        "breakglass-config no longer builds on breakglass-core? {config:?}"
    );
    let core = dependencies("breakglass-core", "normal,dev");
    assert!(
        core.iter().any(|d| d == "breakglass-testkit"),
        "the listing lacks breakglass-core's dev-dependencies: {core:?}"
    );
    assert!(
        !core.iter().any(|d| d == "breakglass-config"),
        "breakglass-core depends on breakglass-config (see ARCHITECTURE.md)"
    );
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
fn templates_use_nothing_of_the_config_built_on_them() {
    // breakglass-config's templates are its lower layer: the loader, resources, render and
    // lint use them, never the reverse (a `templates::revoker` ↔ `resources` cycle once
    // crept in over the ownership tag). Within `templates/`, only `super::` paths between
    // sibling modules are allowed.
    let dir = workspace_root().join("crates/breakglass-config/src/templates");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(files.len() > 1, "no templates found in {}", dir.display());
    for file in files {
        let src = std::fs::read_to_string(&file).expect("source is readable");
        let code = code_only(&src);
        let escapes = code.contains("crate::")
            || (file.ends_with("mod.rs") && code.contains("super::"))
            || code.contains("super::super");
        assert!(
            !escapes,
            "{} reaches outside `templates/` (see ARCHITECTURE.md)",
            file.display()
        );
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

/// Which crate alone may take each family of packages as a normal dependency (a package is in
/// a family when its name is the family's or starts with it and `-` or `_`).
const OWNERS: &[(&str, &str)] = &[
    ("aws", "breakglass-aws"),
    ("sqlx", "breakglass-store"),
    ("axum", "breakglass-server"),
    ("clap", "breakglass"),
    ("anyhow", "breakglass"),
];

/// Crates the ownership rule does not bind: test plumbing that never ships (breakglass-testkit
/// uses sqlx to make throwaway PostgreSQL schemas). That they stay dev-only is checked below.
const DEV_ONLY_CRATES: &[&str] = &["breakglass-testkit"];

fn in_family(package: &str, family: &str) -> bool {
    package
        .strip_prefix(family)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('-') || rest.starts_with('_'))
}

/// Each workspace crate and its direct normal dependencies (kind `null`), from
/// `cargo metadata`.
fn direct_normal_dependencies() -> Vec<(String, Vec<String>)> {
    let out = Command::new(cargo())
        .current_dir(workspace_root())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--no-deps",
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(&id)))
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str().map(str::to_owned))
                .collect();
            (p["name"].as_str().expect("name").to_owned(), deps)
        })
        .collect()
}

/// The ownership violations in `crates` (crate, its direct normal dependencies).
fn ownership_violations(crates: &[(String, Vec<String>)]) -> Vec<String> {
    let mut bad = Vec::new();
    for (krate, deps) in crates {
        for dep in deps {
            if DEV_ONLY_CRATES.contains(&dep.as_str()) {
                bad.push(format!(
                    "{krate} depends on {dep}, which is for dev-dependencies only"
                ));
            }
            if DEV_ONLY_CRATES.contains(&krate.as_str()) {
                continue;
            }
            for (family, owner) in OWNERS {
                if in_family(dep, family) && krate != owner {
                    bad.push(format!(
                        "{krate} depends on {dep}; only {owner} may depend on {family}* (see ARCHITECTURE.md)"
                    ));
                }
            }
        }
    }
    bad
}

#[test]
fn each_outside_world_has_one_crate_that_knows_it() {
    let crates = direct_normal_dependencies();
    for (_, owner) in OWNERS {
        assert!(
            crates.iter().any(|(k, _)| k == owner),
            "cargo metadata did not list {owner}: {crates:?}"
        );
    }
    // The owners do depend on what they own, so the listing is the one that matters.
    let aws = crates
        .iter()
        .find(|(k, _)| k == "breakglass-aws")
        .expect("listed");
    assert!(aws.1.iter().any(|d| d == "aws-sdk-sts"), "{aws:?}");
    let bad = ownership_violations(&crates);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_ownership_check_catches_a_stray_dependency() {
    let crates = vec![
        ("breakglass-aws".to_owned(), vec!["aws-config".to_owned()]),
        (
            "breakglass-server".to_owned(),
            vec!["aws-config".to_owned(), "axum".to_owned()],
        ),
        (
            "breakglass-core".to_owned(),
            vec!["sqlx-core".to_owned(), "clap_complete".to_owned()],
        ),
        (
            "breakglass".to_owned(),
            vec!["clap".to_owned(), "breakglass-testkit".to_owned()],
        ),
        ("breakglass-testkit".to_owned(), vec!["sqlx".to_owned()]),
    ];
    assert_eq!(
        ownership_violations(&crates),
        vec![
            "breakglass-server depends on aws-config; only breakglass-aws may depend on aws* (see ARCHITECTURE.md)",
            "breakglass-core depends on sqlx-core; only breakglass-store may depend on sqlx* (see ARCHITECTURE.md)",
            "breakglass-core depends on clap_complete; only breakglass may depend on clap* (see ARCHITECTURE.md)",
            "breakglass depends on breakglass-testkit, which is for dev-dependencies only",
        ]
    );
    assert!(!in_family("awsome", "aws") && !in_family("axum2", "axum"));
}

/// A module's path inside its crate: `[]` for the root, `["a", "b"]` for `a::b`.
type ModPath = Vec<String>;

/// Import cycles between modules that a change in progress will remove, so this list only
/// shrinks (it is empty: no crate has one). Each entry is a crate and the modules (with their
/// submodules) one cycle runs through; the test fails when an entry no longer matches a
/// cycle, so remove it then.
const ALLOWED_CYCLES: &[(&str, &[&str])] = &[];

/// The module path of `file` (relative to the crate's `src`).
fn module_path(file: &Path) -> ModPath {
    let mut path: ModPath = file
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if path.len() == 1 && matches!(path[0].as_str(), "lib" | "main") {
        path.clear();
    } else if path.last().is_some_and(|l| l == "mod") {
        path.pop();
    }
    path
}

/// `src` without `//` comment lines and without `#[cfg(test)] mod … { … }` blocks (rustfmt
/// closes a top-level module with `}` alone on a line): tests may reach anywhere.
fn code_without_tests(src: &str) -> String {
    let mut out = Vec::new();
    let mut lines = src.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.starts_with("mod ") && next.trim_end().ends_with('{'))
        {
            for skipped in lines.by_ref() {
                if skipped == "}" {
                    break;
                }
            }
            continue;
        }
        if !line.trim_start().starts_with("//") {
            out.push(line);
        }
    }
    out.join("\n")
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Reads a use tree at `text[at..]` (`a::b`, `a::{b, c::d}`, `*`) after `prefix`, pushing
/// every path it names; returns where it ended.
fn read_tree(text: &[char], mut at: usize, prefix: &[String], out: &mut Vec<ModPath>) -> usize {
    let skip_space = |at: &mut usize| {
        while text.get(*at).is_some_and(|c| c.is_whitespace()) {
            *at += 1;
        }
    };
    let mut path = prefix.to_vec();
    loop {
        skip_space(&mut at);
        match text.get(at) {
            Some('{') => {
                at += 1;
                loop {
                    at = read_tree(text, at, &path, out);
                    skip_space(&mut at);
                    match text.get(at) {
                        Some(',') => at += 1,
                        Some('}') => return at + 1,
                        _ => return at,
                    }
                    skip_space(&mut at);
                    if text.get(at) == Some(&'}') {
                        return at + 1;
                    }
                }
            }
            Some(c) if is_ident_char(*c) => {
                let start = at;
                while text.get(at).copied().is_some_and(is_ident_char) {
                    at += 1;
                }
                path.push(text[start..at].iter().collect());
                skip_space(&mut at);
                if text.get(at) == Some(&':') && text.get(at + 1) == Some(&':') {
                    at += 2;
                } else {
                    out.push(path);
                    return at;
                }
            }
            _ => {
                out.push(path);
                return at;
            }
        }
    }
}

/// The module paths `code` (the source of module `module`) names through `crate::`,
/// `$crate::` and `super::` paths, made absolute; `self` segments are dropped.
fn named_paths(module: &[String], code: &str) -> Vec<ModPath> {
    let text: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let starts_word = at == 0 || !text.get(at - 1).copied().is_some_and(is_ident_char);
        let rest = || text[at..].iter().take(7).collect::<String>();
        if starts_word && rest().starts_with("crate::") {
            at = read_tree(&text, at + "crate::".len(), &[], &mut out);
        } else if starts_word && rest().starts_with("super::") {
            let mut base = module.to_vec();
            while text[at..].iter().take(7).collect::<String>() == "super::" {
                base.pop();
                at += "super::".len();
            }
            at = read_tree(&text, at, &base, &mut out);
        } else {
            at += 1;
        }
    }
    for path in &mut out {
        path.retain(|s| s != "self");
    }
    out
}

/// The module dependency graph of one crate: A → B when A's code names a path in B (the
/// longest module path it starts with), except between a module and its ancestors or
/// descendants; and each module → its children (a module contains them).
fn module_graph(modules: &BTreeMap<ModPath, String>) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let mut graph: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (module, code) in modules {
        let edges = graph.entry(module.clone()).or_default();
        for path in named_paths(module, code) {
            let Some(target) = (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| modules.contains_key(p))
            else {
                continue;
            };
            if target.starts_with(module) || module.starts_with(&target) {
                continue;
            }
            edges.insert(target);
        }
    }
    for module in modules.keys() {
        if let Some(parent) = (0..module.len())
            .rev()
            .map(|n| module[..n].to_vec())
            .find(|p| modules.contains_key(p))
            .filter(|p| !p.is_empty())
        {
            graph.entry(parent).or_default().insert(module.clone());
        }
    }
    graph
}

fn show(path: &[String]) -> String {
    path.join("::")
}

/// Strongly connected components of more than one module, each sorted (Tarjan).
fn components(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct Tarjan<'g> {
        graph: &'g BTreeMap<ModPath, BTreeSet<ModPath>>,
        next: usize,
        index: BTreeMap<&'g ModPath, (usize, usize)>,
        stack: Vec<&'g ModPath>,
        found: Vec<Vec<ModPath>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g ModPath) {
            self.index.insert(v, (self.next, self.next));
            self.next += 1;
            self.stack.push(v);
            let graph = self.graph;
            for w in graph.get(v).into_iter().flatten() {
                let low = match self.index.get(w) {
                    None => {
                        self.visit(w);
                        self.index[w].1
                    }
                    Some(&(index, _)) if self.stack.contains(&w) => index,
                    Some(_) => continue,
                };
                let entry = self.index.get_mut(v).expect("visited");
                entry.1 = entry.1.min(low);
            }
            if self.index[v].0 == self.index[v].1 {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph,
        next: 0,
        index: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.found.sort();
    t.found
}

/// A shortest cycle through the first module of `component`, as `a -> b -> a`.
fn shortest_cycle(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>, component: &[ModPath]) -> String {
    let start = &component[0];
    let mut came_from: BTreeMap<&ModPath, &ModPath> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in graph.get(v).into_iter().flatten() {
            if !component.contains(w) {
                continue;
            }
            if w == start {
                let mut path = vec![show(start)];
                let mut at = v;
                while at != start {
                    path.push(show(at));
                    at = came_from[at];
                }
                path.push(show(start));
                path.reverse();
                return path.join(" -> ");
            }
            if !came_from.contains_key(w) {
                came_from.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    unreachable!("a strongly connected component has a cycle through each member")
}

/// The import cycles of a crate: per cycle, a shortest cycle and the modules involved.
fn import_cycles(modules: &BTreeMap<ModPath, String>) -> Vec<(String, Vec<ModPath>)> {
    let graph = module_graph(modules);
    components(&graph)
        .into_iter()
        .map(|c| (shortest_cycle(&graph, &c), c))
        .collect()
}

/// Every module of the crate at `crate_dir`, with its code (comments and tests left out).
fn crate_modules(crate_dir: &Path) -> BTreeMap<ModPath, String> {
    let src = crate_dir.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .iter()
        .filter(|f| !f.starts_with(src.join("bin")))
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("source is readable");
            let path = module_path(f.strip_prefix(&src).expect("under src"));
            (path, code_without_tests(&text))
        })
        .collect()
}

/// Whether the allowlist entry `allowed` covers the cycle through `members`: every member is
/// one of its modules or inside one, and each of its modules takes part.
fn covers(allowed: &[&str], members: &[ModPath]) -> bool {
    let within = |m: &ModPath, a: &str| {
        let a: Vec<&str> = a.split("::").collect();
        m.len() >= a.len() && m.iter().zip(&a).all(|(x, y)| x == y)
    };
    members.iter().all(|m| allowed.iter().any(|a| within(m, a)))
        && allowed.iter().all(|a| members.iter().any(|m| within(m, a)))
}

#[test]
fn no_module_imports_itself_through_others() {
    let root = workspace_root();
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .expect("crates/ is readable")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    crates.sort();
    assert!(crates.len() >= 8, "{crates:?}");
    let mut unexpected = Vec::new();
    let mut matched = vec![false; ALLOWED_CYCLES.len()];
    for dir in &crates {
        let krate = dir
            .file_name()
            .expect("named")
            .to_string_lossy()
            .into_owned();
        let modules = crate_modules(dir);
        assert!(
            modules.contains_key(&Vec::new()),
            "{krate} has no root module"
        );
        for (cycle, members) in import_cycles(&modules) {
            let allowed = ALLOWED_CYCLES
                .iter()
                .position(|(k, mods)| *k == krate && covers(mods, &members));
            match allowed {
                Some(i) => matched[i] = true,
                None => unexpected.push(format!(
                    "{krate}: {cycle} (modules in the cycle: {})",
                    members
                        .iter()
                        .map(|m| show(m))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
    }
    assert!(
        unexpected.is_empty(),
        "import cycles between modules (move what both need to the module that owns it, or to a lower one):\n{}",
        unexpected.join("\n")
    );
    let stale: Vec<String> = ALLOWED_CYCLES
        .iter()
        .zip(&matched)
        .filter(|(_, m)| !**m)
        .map(|((k, mods), _)| format!("{k}: {}", mods.join(" <-> ")))
        .collect();
    assert!(
        stale.is_empty(),
        "these allowed cycles are gone; remove them from ALLOWED_CYCLES:\n{}",
        stale.join("\n")
    );
}

fn synthetic(modules: &[(&str, &str)]) -> BTreeMap<ModPath, String> {
    modules
        .iter()
        .map(|(path, code)| {
            let path = if path.is_empty() {
                Vec::new()
            } else {
                path.split("::").map(str::to_owned).collect()
            };
            (path, code_without_tests(code))
        })
        .collect()
}

#[test]
fn the_cycle_finder_finds_cycles_through_groups_super_and_children() {
    let modules = synthetic(&[
        ("", "mod a;\nmod b;\nmod c;\nmod d;\nmod e;\n"),
        ("a", "use crate::b::Thing;\n"),
        ("b", "use crate::{\n    c::{self, Y},\n    d,\n};\n"),
        ("c", "pub(crate) fn f() -> super::a::X { todo!() }\n"),
        ("d", "pub struct D;\n"),
        // A cycle through a child: `e` contains `e::inner`, which uses `d2`, which uses `e`.
        ("e", "mod inner;\n"),
        ("e::inner", "use super::super::d2::Z;\n"),
        ("d2", "use crate::e::Thing;\n"),
    ]);
    let cycles = import_cycles(&modules);
    let shown: Vec<&str> = cycles.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        shown,
        ["a -> b -> c -> a", "d2 -> e -> e::inner -> d2"],
        "{cycles:?}"
    );
    assert_eq!(cycles[0].1.len(), 3);
    assert!(covers(&["a", "b", "c"], &cycles[0].1));
    assert!(!covers(&["a", "b"], &cycles[0].1), "c is not allowed");
    assert!(
        !covers(&["a", "b", "c", "d"], &cycles[0].1),
        "d is not in it: stale"
    );
    assert!(covers(&["d2", "e"], &cycles[1].1), "e covers e::inner");
}

#[test]
fn the_cycle_finder_ignores_parents_children_comments_and_tests() {
    let modules = synthetic(&[
        ("", "mod a;\nmod b;\nmod x;\nmod y;\n"),
        (
            "a",
            "mod inner;\nuse self::inner::Z;\npub use crate::a::inner::W;\nuse crate::b;\n",
        ),
        ("a::inner", "use super::Thing;\nuse crate::a::Other;\n"),
        ("b", "use crate::a::inner::W;\n"),
        (
            "x",
            "// use crate::y::Z;\n/// See [`crate::y::Z`].\npub struct X;\n\n#[cfg(test)]\nmod tests {\n    use crate::y::Q;\n}\n",
        ),
        ("y", "use crate::x::X;\n"),
    ]);
    assert_eq!(import_cycles(&modules), Vec::new());
    // The same modules with `b` naming `a` directly do make a cycle.
    let mut with_cycle = modules.clone();
    with_cycle.insert(vec!["b".to_owned()], "use crate::a::Thing;\n".to_owned());
    let cycles = import_cycles(&with_cycle);
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert_eq!(cycles[0].0, "a -> b -> a");
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
