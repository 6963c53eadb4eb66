//! The web console in headless Chromium, driven over WebDriver (`fantoccini` talking to
//! Debian's `chromedriver`): the flows of issue 7's acceptance in [`console`], sign-in
//! through the identity provider in [`sso`], on a harness ([`driver`], [`page`]) whose page
//! checks are themselves checked here.

mod activity;
mod console;
mod driver;
mod narrowing;
mod page;
mod pages;
mod passkey;
mod reports;
mod site;
mod sso;
mod steps;

use serde_json::json;

use driver::{Chromedriver, Shots};
use page::problems_failure;
use site::Site;

/// The checkers fail on a page that breaks their rules, naming the page and the element.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_checks_name_what_is_wrong() {
    let Some(driver) = Chromedriver::start() else {
        return;
    };
    let shots = Shots::new("checker-screenshots");
    let site = Site::serve(
        "<!doctype html><html lang=en><head><title>bad</title>\
         <meta http-equiv=Content-Security-Policy content=\"style-src 'none'\"></head><body>\
         <h1>One</h1><h1>Two</h1>\
         <form><input name=secret><label>Name <input name=ok></label>\
         <label for=mail>Mail</label><input id=mail name=mail>\
         <input type=hidden name=csrf value=x><button></button></form>\
         <p style=\"color: red\">an inline style the policy refuses</p>\
         <table id=wide width=900><tr><td>wide</td></tr></table>\
         <script>notDefined()</script></body></html>"
            .to_owned(),
    );
    let Some(b) = driver.browser("checker", &shots).await else {
        return;
    };
    b.goto(&site.url("127.0.0.1")).await;
    let a11y = b.js(include_str!("browser/a11y.js"), vec![]).await;
    let found = a11y.to_string();
    for want in [
        "input[name=\\\"secret\\\"] in form[action=\\\"\\\"] has no label",
        "is a button without a name",
        "2 <h1> elements",
        "no <main> element",
        "no <nav> with links",
        "no <meta name=\\\"viewport\\\">",
    ] {
        assert!(found.contains(want), "want `{want}` in {found}");
    }
    for fine in ["name=\\\"ok\\\"", "name=\\\"mail\\\"", "csrf"] {
        assert!(!found.contains(fine), "`{fine}` is labelled: {found}");
    }
    let message = problems_failure("checker", "bad", "/", "accessibility", &a11y).unwrap();
    assert!(
        message.contains("page `bad`") && message.contains("secret"),
        "{message}"
    );

    // What the page logged: its script error and the refused inline style.
    let log: Vec<String> = b
        .drain_log()
        .await
        .into_iter()
        .filter(|(level, _)| level == "SEVERE")
        .map(|(_, message)| message)
        .collect();
    let log = log.join("\n");
    for want in ["notDefined is not defined", "Content Security Policy"] {
        assert!(
            log.contains(want),
            "want `{want}` in the page's log:\n{log}"
        );
    }
    assert!(b.drain_log().await.is_empty(), "the log is drained");

    b.resize(page::PHONE).await;
    let phone = b
        .js(
            include_str!("browser/phone.js"),
            vec![json!(["#wide", "#missing"])],
        )
        .await
        .to_string();
    b.shot("checker-phone").await;
    for want in [
        "horizontal scroll",
        "td (right edge 9",
        "main action `#missing` is not on the page",
        "main action table#wide (`#wide`) sticks out of the screen",
    ] {
        assert!(phone.contains(want), "want `{want}` in {phone}");
    }

    // An action inside the screen but scrolled out of sight in a sideways-scrolling box.
    b.js(
        "const box = document.createElement('div');
         box.id = 'scroller';
         box.style.width = '200px';
         box.style.overflowX = 'auto';
         const inner = document.createElement('div');
         inner.style.width = '600px';
         const far = document.createElement('button');
         far.id = 'far';
         far.textContent = 'Go';
         far.style.marginLeft = '300px';
         inner.append(far);
         box.append(inner);
         document.body.prepend(box);",
        vec![],
    )
    .await;
    let phone = b
        .js(include_str!("browser/phone.js"), vec![json!(["#far"])])
        .await
        .to_string();
    assert!(
        phone.contains("main action button#far (`#far`) is cut off by div#scroller"),
        "{phone}"
    );
    b.close().await;
}
