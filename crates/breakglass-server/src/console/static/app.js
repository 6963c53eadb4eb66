// breakglass web console: progressive enhancement only. Every action works without this
// file; it adds copying to the clipboard, ticking "time left", and live updates from
// /console/events (server-sent events), falling back to the pages' Refresh links.
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
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    if (h > 0) { return h + " h " + pad(m) + " min"; }
    if (m > 0) { return m + " min " + pad(s) + " s"; }
    return s + " s";
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

  function start() {
    setUpCopy();
    setUpTimers();
    setUpLive();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
