//! Rendered templates of the example config, as insta snapshots: a change to any template,
//! trust policy or renderer shows up here as a reviewable diff.

use breakglass_config::render::render_all;
use breakglass_config::resources::DesiredState;

use crate::config::example;

#[test]
fn rendered_files_of_the_example() {
    let config = example();
    let state = DesiredState::build(&config);
    let files = render_all(&config, &state);
    let listing: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    insta::assert_snapshot!("file_listing", listing.join("\n"));
    for file in &files {
        if file.path.starts_with("cloudformation/") || file.path.starts_with("terraform/") {
            let name = file.path.replace(['/', '.'], "_");
            insta::assert_snapshot!(name, file.contents);
        }
    }
}

#[test]
fn session_policies_of_the_example() {
    let config = example();
    for playbook in &config.playbooks {
        insta::assert_snapshot!(
            format!("session_policy_{}", playbook.id),
            playbook.session_policy.as_str()
        );
    }
}
