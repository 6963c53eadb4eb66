// breakglass web console: progressive enhancement. Every action but passkeys works without
// this file; it adds copying to the clipboard, ticking "time left", live updates from
// /console/events (server-sent events, falling back to the pages' Refresh links), and the
// browser half of passkeys (WebAuthn), which only a script can reach.
"use strict";

(function () {
  // Copy buttons: <button data-copy="ID" hidden> copies the text of element ID; shown once wired.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  function setUpCopy() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        if (!source) { return; }
        copyText(source.textContent.trim()).then(function () {
          button.textContent = "Copied";
          button.setAttribute("data-copied", "true");
          setTimeout(function () { button.textContent = "Copy"; }, 3000);
        }, function () {
          var range = document.createRange();
          range.selectNodeContents(source);
          var sel = window.getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
          button.textContent = "Press Ctrl+C";
        });
      });
      // Rendered hidden: without this script the button would do nothing.
      button.hidden = false;
    });
  }

  // "Time left" counters: <span data-end="RFC 3339">.
  function format(seconds) {
    if (seconds <= 0) { return "ended"; }
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    // As the server writes durations: `4h`, `1h30m`, `45m`, `30s`.
    if (h > 0) { return h + "h" + (m > 0 ? m + "m" : ""); }
    if (m > 0) { return m + "m"; }
    return s + "s";
  }

  // A <select data-autosubmit> submits its (GET) form when changed: choosing a playbook
  // shows that playbook's roles and accounts. Without this script its button does it.
  function setUpAutoSubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      var form = select.form;
      if (!form) { return; }
      form.querySelectorAll("[data-autosubmit-button]").forEach(function (b) { b.hidden = true; });
      select.addEventListener("change", function () { form.submit(); });
    });
  }

  function setUpTimers() {
    var spans = document.querySelectorAll("[data-end]");
    if (!spans.length) { return; }
    var tick = function () {
      var now = Date.now();
      spans.forEach(function (span) {
        var end = Date.parse(span.getAttribute("data-end"));
        if (!isNaN(end)) { span.textContent = format(Math.floor((end - now) / 1000)); }
      });
    };
    tick();
    setInterval(tick, 1000);
  }

  // Whether the user has typed into a form on this page (then only a status change may
  // reload it).
  var dirty = false;
  document.addEventListener("input", function () { dirty = true; });
  // Whether a passkey ceremony is under way (a reload would lose it).
  var ceremony = false;
  // Whether a form of this page is being sent: a live update must not reload the page
  // then, or the reload would replace the answer (and its confirmation banner).
  var submitting = false;
  document.addEventListener("submit", function () { submitting = true; });

  // Replaces the elements with these ids by their fresh copies from `url`.
  function replaceFrom(url, ids) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        ids.forEach(function (id) {
          var fresh = doc.getElementById(id);
          var current = document.getElementById(id);
          if (fresh && current) { current.replaceWith(document.importNode(fresh, true)); }
        });
      });
  }

  // Runs `fn` once after a burst of calls (one refresh for many events).
  var timers = {};
  function soon(key, fn) {
    if (timers[key]) { clearTimeout(timers[key]); }
    timers[key] = setTimeout(function () { timers[key] = null; fn(); }, 250);
  }

  function setUpLive() {
    if (!window.EventSource) { return; }
    var status = document.getElementById("request-status");
    var approvals = document.getElementById("pending-approvals");
    var mine = document.getElementById("my-requests");
    if (!status && !approvals && !mine) { return; }
    var requestId = status ? status.getAttribute("data-request") : null;

    var onChange = function (change) {
      if (ceremony || submitting) { return; }
      if (status && change.id === requestId) {
        if (change.status !== status.textContent.trim() || !dirty) { window.location.reload(); }
      }
      if (approvals) {
        soon("approvals", function () { replaceFrom(window.location.pathname, ["pending-approvals"]); });
      }
      if (mine && !dirty) {
        soon("mine", function () {
          replaceFrom(window.location.pathname, ["my-requests", "my-grants"]);
        });
      }
    };

    var broken = false;
    var source = new EventSource("/console/events");
    source.addEventListener("request", function (e) {
      try { onChange(JSON.parse(e.data)); } catch (err) { /* malformed event: ignore */ }
    });
    source.addEventListener("open", function () {
      document.documentElement.setAttribute("data-live", "connected");
      if (!broken) { return; }
      broken = false;
      // Events may have been missed while disconnected: look again.
      if (status) {
        fetch(window.location.href, { credentials: "same-origin" }).then(function (r) {
          var now = r.headers.get("x-request-status");
          if (now && now !== status.textContent.trim()) { window.location.reload(); }
        });
      }
      if (approvals) { replaceFrom(window.location.pathname, ["pending-approvals"]); }
    });
    source.addEventListener("error", function () {
      broken = true;
      document.documentElement.setAttribute("data-live", "reconnecting");
    });
  }

  // Passkeys. The broker's challenges and the browser's answers carry binary fields in
  // base64url (no padding); navigator.credentials wants and gives ArrayBuffers.
  function fromB64url(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer), raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (c) {
      var copy = Object.assign({}, c);
      copy.id = fromB64url(c.id);
      return copy;
    });
  }

  function requestOptions(pk) {
    var o = Object.assign({}, pk);
    o.challenge = fromB64url(pk.challenge);
    o.allowCredentials = withIds(pk.allowCredentials);
    return o;
  }

  function creationOptions(pk) {
    var o = Object.assign({}, pk);
    o.challenge = fromB64url(pk.challenge);
    o.user = Object.assign({}, pk.user, { id: fromB64url(pk.user.id) });
    o.excludeCredentials = withIds(pk.excludeCredentials);
    return o;
  }

  function assertionJson(c) {
    var r = c.response;
    return {
      id: c.id, rawId: toB64url(c.rawId), type: c.type,
      response: {
        authenticatorData: toB64url(r.authenticatorData),
        clientDataJSON: toB64url(r.clientDataJSON),
        signature: toB64url(r.signature),
        userHandle: r.userHandle ? toB64url(r.userHandle) : null
      },
      extensions: c.getClientExtensionResults()
    };
  }

  function attestationJson(c) {
    return {
      id: c.id, rawId: toB64url(c.rawId), type: c.type,
      response: {
        attestationObject: toB64url(c.response.attestationObject),
        clientDataJSON: toB64url(c.response.clientDataJSON)
      },
      extensions: c.getClientExtensionResults()
    };
  }

  // Posts `fields` as a form and reads the JSON answer; a refusal rejects with its message.
  function postJson(url, fields) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json" },
      body: new URLSearchParams(fields).toString()
    }).then(function (r) {
      return r.json().then(function (body) {
        if (r.ok) { return body; }
        throw new Error(body && body.error ? body.error.message : "refused (" + r.status + ")");
      }, function () { throw new Error("refused (" + r.status + "): reload the page and try again"); });
    });
  }

  function say(form, text) {
    var status = form.querySelector(".passkey-status");
    if (status) { status.textContent = text; }
  }

  function csrfOf(form) {
    var field = form.querySelector("input[name=csrf]");
    return field ? field.value : "";
  }

  // A step-up form's "Use passkey" button: a challenge for the form's purpose, the
  // passkey's answer into the hidden `passkey` field, then the form is sent.
  function setUpStepUps() {
    document.querySelectorAll("button[data-passkey-purpose]").forEach(function (button) {
      var form = button.form;
      if (!form || !window.PublicKeyCredential) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        form.querySelectorAll("input[name=totp]").forEach(function (f) { f.required = false; });
        if (!form.reportValidity()) { return; }
        ceremony = true;
        say(form, "Waiting for your passkey…");
        postJson("/console/passkeys/challenge", {
          csrf: csrfOf(form), purpose: button.getAttribute("data-passkey-purpose")
        }).then(function (c) {
          return navigator.credentials.get({ publicKey: requestOptions(c.publicKey) })
            .then(function (cred) {
              form.querySelector("input[name=passkey]").value =
                JSON.stringify({ ceremony: c.ceremony, credential: assertionJson(cred) });
              say(form, "Passkey accepted; sending…");
              form.submit();
            });
        }).catch(function (e) {
          ceremony = false;
          say(form, "The passkey step-up failed: " + e.message);
        });
      });
    });
  }

  // The account page's "Add a passkey".
  function setUpEnrolment() {
    var form = document.getElementById("passkey-enrol");
    var button = document.getElementById("passkey-enrol-button");
    if (!form || !button || !window.PublicKeyCredential) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      if (!form.reportValidity()) { return; }
      var csrf = csrfOf(form);
      ceremony = true;
      say(form, "Follow your browser's prompt to create the passkey…");
      // A user with a second factor proves it: the code typed, or else one of their
      // passkeys (for the purpose the form names) before the new one is created.
      var code = form.querySelector("input[name=totp]");
      var code_given = code && code.value !== "";
      var purpose = form.getAttribute("data-step-up-purpose");
      var step_up = (purpose && !code_given)
        ? postJson("/console/passkeys/challenge", { csrf: csrf, purpose: purpose })
          .then(function (c) {
            return navigator.credentials.get({ publicKey: requestOptions(c.publicKey) })
              .then(function (cred) {
                return JSON.stringify({ ceremony: c.ceremony, credential: assertionJson(cred) });
              });
          })
        : Promise.resolve("");
      step_up.then(function (passkey) {
        return postJson("/console/account/passkeys/start", {
          csrf: csrf, password: form.querySelector("input[name=password]").value,
          totp: code ? code.value : "", passkey: passkey
        });
      }).then(function (c) {
        return navigator.credentials.create({ publicKey: creationOptions(c.publicKey) })
          .then(function (cred) {
            return postJson("/console/account/passkeys", {
              csrf: csrf, ceremony: c.ceremony,
              name: form.querySelector("input[name=name]").value,
              credential: JSON.stringify(attestationJson(cred))
            });
          });
      }).then(function (done) {
        window.location.assign(done.redirect);
      }).catch(function (e) {
        ceremony = false;
        say(form, "The passkey was not added: " + e.message);
      });
    });
  }

  // Signing in: the password was right, the passkey answers the challenge on the page.
  function setUpSignIn() {
    var form = document.getElementById("passkey-sign-in");
    var button = document.getElementById("passkey-sign-in-button");
    if (!form || !button || !window.PublicKeyCredential) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      say(form, "Waiting for your passkey…");
      var options = JSON.parse(form.getAttribute("data-options"));
      navigator.credentials.get({ publicKey: requestOptions(options) }).then(function (cred) {
        form.querySelector("input[name=credential]").value = JSON.stringify(assertionJson(cred));
        form.submit();
      }).catch(function (e) { say(form, "The passkey did not answer: " + e.message); });
    });
  }

  function start() {
    setUpCopy();
    setUpTimers();
    setUpAutoSubmit();
    setUpLive();
    setUpStepUps();
    setUpEnrolment();
    setUpSignIn();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
