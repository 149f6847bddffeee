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
  source.onerror = function () {
    // 401 (signed out elsewhere) closes the stream; the browser retries otherwise.
    if (source.readyState === EventSource.CLOSED) source.close();
  };
})();
