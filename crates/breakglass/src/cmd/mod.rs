//! One module per subcommand family; each turns parsed arguments into library calls.

pub mod apply;
pub mod audit;
pub mod client;
pub mod completions;
pub mod config;
pub mod lint;
pub mod logging;
pub mod notify;
pub mod plan;
pub mod policy;
pub mod scan;
pub mod serve;
pub mod trail;
