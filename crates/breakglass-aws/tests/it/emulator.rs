//! Test plumbing: SDK configurations pointed at a moto server, with static credentials.

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use breakglass_aws::sdk::{self, AwsOptions};
use breakglass_testkit::moto::Moto;

/// The shared SDK configuration for `moto`, as the caller's own account.
pub async fn sdk_config(moto: &Moto) -> SdkConfig {
    let options = AwsOptions {
        endpoint_url: Some(moto.endpoint()),
        region: Some("us-east-1".to_owned()),
        profile: None,
    };
    sdk::load(&options)
        .await
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "tests",
        )))
        .build()
}

/// The configuration for `account`, reached as `apply` reaches it (assuming the deploy
/// role), in `region`.
pub async fn in_account(base: &SdkConfig, account: &str, region: &str) -> SdkConfig {
    let role = format!("arn:aws:iam::{account}:role/incident-response/SecurityDeploy");
    sdk::assume_role(base, &role, "breakglass-tests", account)
        .await
        .unwrap()
        .to_builder()
        .region(aws_config::Region::new(region.to_owned()))
        .build()
}
