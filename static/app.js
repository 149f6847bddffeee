// Spotter: progressive enhancement only. Every page works without this file.
// Live updates: listen to /events and show short toasts. No inline script, no eval.
(function () {
  "use strict";
  if (!document.body || document.body.dataset.live !== "1" || !window.EventSource) {
    return;
  }
  var box = document.getElementById("toasts");
  // A toast is a link to the notification history, where it can be read again later.
  function toast(text) {
    if (!box || !text) return;
    var el = document.createElement("a");
    el.className = "toast";
    el.href = box.dataset.history || "/notifications";
    el.textContent = text; // text only: never HTML from the server
    box.appendChild(el);
    setTimeout(function () { el.classList.add("toast-hide"); }, 8000);
    setTimeout(function () { el.remove(); }, 8600);
  }
  // A page that waits for a job names the last event it was rendered at, so an event that
  // came before the stream opened (the job finishing meanwhile) is replayed, not missed.
  var mark = document.querySelector("[data-events-after]");
  var after = mark ? Number(mark.getAttribute("data-events-after")) : NaN;
  var source = new EventSource(after >= 0 ? "/events?after=" + after : "/events");
  // Marks the page while its live stream is open (the browser test waits on it).
  source.addEventListener("open", function () { document.body.dataset.stream = "open"; });
  // The stream is refused for good (401) when this session was signed out, revoked from
  // another device included: reload once, so the page says so instead of going stale.
  // Leaving the page closes the stream too; that is not a refusal.
  var leaving = false;
  window.addEventListener("pagehide", function () { leaving = true; });
  window.addEventListener("beforeunload", function () { leaving = true; });
  source.addEventListener("error", function () {
    if (leaving) return;
    document.body.dataset.stream = source.readyState === EventSource.CLOSED ? "closed" : "retrying";
    if (source.readyState !== EventSource.CLOSED) return;
    try {
      var last = Number(sessionStorage.getItem("spotter-reloaded") || 0);
      if (Date.now() - last < 30000) return;
      sessionStorage.setItem("spotter-reloaded", String(Date.now()));
    } catch (e) { return; }
    window.location.reload();
  });
  source.addEventListener("audit", function (ev) {
    try {
      var data = JSON.parse(ev.data);
      toast(data.message);
    } catch (e) { /* ignore malformed events */ }
  });
  // Background tasks: progress bars and state badges on the Tasks page.
  var OUTCOME_LABELS = {
    ok: "ok", failed: "failed", cancelled: "cancelled at shutdown",
    interrupted: "interrupted (server stopped)"
  };
  source.addEventListener("job", function (ev) {
    var data;
    try { data = JSON.parse(ev.data); } catch (e) { return; }
    if (!data || typeof data.job !== "string") return;
    var card = document.getElementById("task-" + data.job);
    if (!card) return;
    var bar = card.querySelector(".task-progress");
    var badge = card.querySelector(".task-state");
    var button = card.querySelector("button[type=submit]");
    if (data.state === "started" || data.state === "progress") {
      if (bar) {
        bar.hidden = false;
        if (data.state === "progress" && data.total > 0) {
          bar.max = data.total;
          bar.value = data.done;
          bar.textContent = data.done + " of " + data.total;
        } else {
          bar.removeAttribute("value"); // indeterminate until a total is known
        }
      }
      if (badge) { badge.className = "badge state-running task-state"; badge.textContent = "running"; }
      if (button) button.disabled = true;
    } else if (data.state === "finished") {
      var outcome = OUTCOME_LABELS.hasOwnProperty(data.outcome) ? data.outcome : "failed";
      if (bar) bar.hidden = true;
      if (badge) {
        badge.className = "badge state-" + outcome + " task-state";
        badge.textContent = OUTCOME_LABELS[outcome];
      }
      if (button) button.disabled = false;
      toast(String(data.label || data.job) + ": " + OUTCOME_LABELS[outcome]);
    }
  });
  // New listens: prepend to the dashboard's latest list (text only, at most 10 rows).
  source.addEventListener("listen", function (ev) {
    var list = document.getElementById("latest-listens");
    if (!list) return;
    try {
      var d = JSON.parse(ev.data);
      var li = document.createElement("li");
      var t = document.createElement("time");
      t.setAttribute("datetime", String(d.played_at || ""));
      t.textContent = String(d.played_at || "").replace("T", " ").replace("Z", " UTC");
      li.appendChild(t);
      var services = Array.isArray(d.services) ? d.services.join(", ") : "";
      li.appendChild(document.createTextNode(": " + String(d.title || "") + " by " +
        String(d.artist || "") + " (" + services + ")"));
      list.insertBefore(li, list.firstChild);
      while (list.children.length > 10) list.removeChild(list.lastChild);
      var empty = document.getElementById("latest-listens-empty");
      if (empty) empty.remove();
    } catch (e) { /* ignore malformed events */ }
  });
  // The Library page's progress bar follows the import's job events.
  var libraryBar = document.getElementById("library-progress");
  source.addEventListener("job", function (ev) {
    if (!libraryBar) return;
    try {
      var data = JSON.parse(ev.data);
      if (data.job !== libraryBar.dataset.job) return;
      var progress = libraryBar.querySelector("progress");
      var text = libraryBar.querySelector(".progress-text");
      if (data.state === "progress") {
        libraryBar.hidden = false;
        progress.max = Math.max(1, data.total || 0);
        progress.value = data.done || 0;
        text.textContent = (data.done || 0) + " / " + (data.total || 0) + " albums";
      } else if (data.state === "finished" || data.outcome) {
        libraryBar.hidden = true;
      }
    } catch (e) { /* ignore malformed events */ }
  });
  // A mixtape being generated: follow the Vibes job, reload once it has finished.
  var mixtapeBox = document.getElementById("mixtape-progress");
  source.addEventListener("job", function (ev) {
    if (!mixtapeBox) return;
    try {
      var data = JSON.parse(ev.data);
      if (data.job !== mixtapeBox.dataset.job) return;
      var bar = mixtapeBox.querySelector("progress");
      if (data.state === "progress" && bar && data.total > 0) {
        bar.max = data.total;
        bar.value = data.done || 0;
      } else if (data.state === "finished") {
        window.location.reload();
      }
    } catch (e) { /* ignore malformed events */ }
  });
  source.onerror = function () {
    // 401 (signed out elsewhere) closes the stream; the browser retries otherwise.
    if (source.readyState === EventSource.CLOSED) source.close();
  };
})();
