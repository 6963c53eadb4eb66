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
