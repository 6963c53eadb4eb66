//! Integration tests of `breakglass-iam`: the conformance corpus, property tests, the seed
//! templates, malformed input, the real action catalog, policy generation from use and the
//! broker's uses of the engine.
//!
//! One test binary per crate keeps link times down; each topic is a module.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly by design"
)]

mod api;
mod catalog;
mod corpus;
mod generate;
mod lint;
mod malformed;
mod properties;
mod seeds;

use std::path::PathBuf;

/// A path under this crate's directory.
pub fn crate_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The `*.json` files of a directory under this crate, sorted, as (file name, text).
pub fn json_files(relative: &str) -> Vec<(String, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(crate_path(relative))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}
