//! One module per subcommand family; each turns parsed arguments into library calls.

pub mod apply;
pub mod audit;
pub mod client;
pub mod completions;
pub mod config;
pub mod drill;
pub mod lint;
pub mod logging;
pub mod notify;
pub mod plan;
pub mod policy;
pub mod report;
pub mod scan;
pub mod serve;
pub mod trail;

/// A duration flag's value, written as in the config (`90m`, `1h30m`, `4h`) and positive;
/// clap names the flag in the error, and the error shows an example.
pub fn duration_arg(text: &str) -> Result<time::Duration, String> {
    let d = breakglass_config::parse_duration(text)?;
    if d.is_positive() {
        Ok(d)
    } else {
        Err(format!(
            "`{text}` is not a positive duration: expected e.g. `90m`, `1h30m` or `4h`"
        ))
    }
}

/// A file larger than the reader takes.
#[derive(Debug, thiserror::Error)]
#[error("`{path}` is larger than {cap} bytes")]
pub(crate) struct TooLarge {
    path: String,
    cap: u64,
}

/// Reads at most `cap` bytes of `path` as UTF-8; larger files are refused ([`TooLarge`]),
/// not truncated.
pub(crate) fn read_capped(path: &std::path::Path, cap: u64) -> anyhow::Result<String> {
    use anyhow::Context as _;
    use std::io::Read as _;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    if bytes.len() as u64 > cap {
        return Err(TooLarge {
            path: path.display().to_string(),
            cap,
        }
        .into());
    }
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("`{}` is not UTF-8 text", path.display()))
}

/// Reads a policy file, refusing one larger than the parser accepts.
pub(crate) fn read_policy(path: &std::path::Path) -> anyhow::Result<String> {
    let cap = breakglass_iam::MAX_POLICY_BYTES as u64;
    read_capped(path, cap).map_err(|e| {
        if e.is::<TooLarge>() {
            anyhow::anyhow!(
                "`{}` /: [input-too-large] policy text is larger than {cap} bytes; the largest AWS policy is 10,240 characters",
                path.display()
            )
        } else {
            e
        }
    })
}
