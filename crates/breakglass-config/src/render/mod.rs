//! Rendering the desired state for other tools: CloudFormation (one template per account and
//! a StackSet variant), Terraform JSON and raw IAM JSON. Pure: returns file names and
//! contents; the caller writes them.

pub mod cloudformation;
pub mod iam;
pub mod organization;
pub mod terraform;
pub mod yaml;

use super::Config;
use super::resources::DesiredState;

/// One rendered output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// The path relative to the output directory, `/`-separated.
    pub path: String,
    /// The file's contents.
    pub contents: String,
}

fn file(path: String, contents: String) -> RenderedFile {
    RenderedFile { path, contents }
}

/// Every file `breakglass plan` writes:
/// `cloudformation/<account>.yaml`, `cloudformation/stackset.yaml`,
/// `terraform/<account>.tf.json`, the organisation's revoked-responders SCP
/// (`cloudformation/organization.yaml`, `terraform/organization.tf.json`) and `iam/...`.
pub fn render_all(config: &Config, state: &DesiredState) -> Vec<RenderedFile> {
    let mut files = Vec::new();
    for account in &state.accounts {
        files.push(file(
            format!("cloudformation/{}.yaml", account.name),
            yaml::to_yaml(&cloudformation::account_template(config, account)),
        ));
    }
    if let Some(template) = cloudformation::stackset_template(config, state) {
        files.push(file(
            "cloudformation/stackset.yaml".to_owned(),
            yaml::to_yaml(&template),
        ));
    }
    for account in &state.accounts {
        let mut text = serde_json::to_string_pretty(&terraform::account_module(config, account))
            .unwrap_or_default();
        text.push('\n');
        files.push(file(format!("terraform/{}.tf.json", account.name), text));
    }
    files.push(file(
        "cloudformation/organization.yaml".to_owned(),
        yaml::to_yaml(&organization::cloudformation(config)),
    ));
    let mut text =
        serde_json::to_string_pretty(&organization::terraform(config)).unwrap_or_default();
    text.push('\n');
    files.push(file("terraform/organization.tf.json".to_owned(), text));
    files.extend(iam::files(config, state));
    files
}
