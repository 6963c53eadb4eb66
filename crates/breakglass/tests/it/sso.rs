//! `breakglass login --sso` end to end: a real `breakglass serve` whose `[auth.oidc]` points
//! at the test OpenID provider (the certified `oidc-provider` package), the client secret in
//! the broker's environment only. The command prints where to sign in; the test signs in
//! there as the person would; the command ends with a broker session that works.
//!
//! Skipped with a printed reason when the emulator, Node.js or the npm package is missing,
//! unless `BREAKGLASS_REQUIRE_EMULATOR=1` / `BREAKGLASS_REQUIRE_OIDC=1`.

use std::io::BufRead as _;
use std::process::{Command, Stdio};

use breakglass_testkit::oidc::agent::approve_device;
use breakglass_testkit::oidc::{CLIENT_ID, CLIENT_SECRET, OidcProvider};

use super::support::{BIN, Broker, client, ok};

#[test]
fn login_sso_signs_in_through_the_identity_provider_with_the_device_grant() {
    // The device grant redirects nowhere, but the provider's client needs a redirect URI.
    let Some(provider) =
        OidcProvider::start(&["http://127.0.0.1:9/console/oidc/callback".to_owned()])
    else {
        return;
    };
    let extra = format!(
        "[auth.oidc]\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nscopes = [\"openid\", \"email\", \"groups\"]\ngroups_claim = \"groups\"\n",
        provider.issuer()
    );
    let Some(broker) = Broker::start_with_env(
        &extra,
        &[],
        &[("BREAKGLASS_OIDC_CLIENT_SECRET", CLIENT_SECRET)],
    ) else {
        return;
    };
    let session = broker.dir.path().join("alice-sso.json");
    let mut login = Command::new(BIN)
        .env("BREAKGLASS_SESSION_FILE", &session)
        // A username left in the environment for password sign-ins neither stops `--sso` nor
        // names who signs in: the identity provider does.
        .env("BREAKGLASS_USER", "bob")
        .args(["login", "--sso", "--url", &broker.url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(login.stderr.take().unwrap()).lines();
    let mut said = Vec::new();
    let page = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("login --sso ended before saying where to sign in: {said:?}"))
            .unwrap();
        said.push(line.clone());
        if let Some(rest) = line.strip_prefix("(or open ") {
            break rest.split(", which").next().unwrap().to_owned();
        }
    };
    assert!(
        said.iter().any(|l| l.starts_with("to sign in, open ")
            && l.contains(&provider.issuer())
            && l.contains("enter the code ")),
        "{said:?}"
    );
    approve_device(&page, "alice").unwrap();
    // The rest of what it says, up to its exit.
    said.extend(lines.map(Result::unwrap));
    let status = login.wait().unwrap();
    assert!(status.success(), "{said:?}");
    assert!(
        said.iter()
            .any(|l| l.starts_with("logged in as alice until ")),
        "{said:?}"
    );
    // The session works for the API as any other.
    ok(&client(&session, &["status"]));
    // The client secret and the minted token stay out of the broker's log.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&session).unwrap()).unwrap();
    let token = saved["token"].as_str().unwrap();
    assert!(token.starts_with("bgt_"));
    let log = std::fs::read_to_string(&broker.log).unwrap();
    assert!(!log.contains(CLIENT_SECRET), "{log}");
    assert!(!log.contains(token), "{log}");
    assert!(!provider.log().contains(token));
}
