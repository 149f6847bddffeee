// Spotter: progressive enhancement only. Every page works without this file.
// Live updates: listen to /events and show short toasts. No inline script, no eval.
(function () {
  "use strict";
  if (!document.body || document.body.dataset.live !== "1" || !window.EventSource) {
    return;
  }
  var box = document.getElementById("toasts");
  function toast(text) {
    if (!box || !text) return;
    var el = document.createElement("div");
    el.className = "toast";
    el.textContent = text; // text only: never HTML from the server
    box.appendChild(el);
    setTimeout(function () { el.classList.add("toast-hide"); }, 4000);
    setTimeout(function () { el.remove(); }, 4600);
  }
  var source = new EventSource("/events");
  source.addEventListener("audit", function (ev) {
    try {
      var data = JSON.parse(ev.data);
      toast(data.message);
    } catch (e) { /* ignore malformed events */ }
  });
  // The Library page's progress bar follows the import's job events.
  var bar = document.getElementById("library-progress");
  source.addEventListener("job", function (ev) {
    if (!bar) return;
    try {
      var data = JSON.parse(ev.data);
      if (data.job !== bar.dataset.job) return;
      var progress = bar.querySelector("progress");
      var text = bar.querySelector(".progress-text");
      if (data.state === "progress") {
        bar.hidden = false;
        progress.max = Math.max(1, data.total || 0);
        progress.value = data.done || 0;
        text.textContent = (data.done || 0) + " / " + (data.total || 0) + " albums";
      } else if (data.state === "finished" || data.outcome) {
        bar.hidden = true;
      }
    } catch (e) { /* ignore malformed events */ }
  });
  source.onerror = function () {
    // 401 (signed out elsewhere) closes the stream; the browser retries otherwise.
    if (source.readyState === EventSource.CLOSED) source.close();
  };
})();
