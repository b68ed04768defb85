// vigil's only script, and the pages work without it. It does two things:
// it tells the server the browser's time zone (the vigil_tz cookie), so
// that times are written in the viewer's zone, and it keeps the relative
// labels of times ("3m 40s ago", span.ago) ticking between refreshes, with
// the same words as the server (internal/web/times.go, relative).
(function () {
  "use strict";
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && document.cookie.split("; ").indexOf("vigil_tz=" + encodeURIComponent(tz)) < 0) {
      document.cookie = "vigil_tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; samesite=lax" +
        (location.protocol === "https:" ? "; secure" : "");
    }
  } catch (e) { /* no Intl: times stay in UTC */ }

  function pair(a, ua, b, ub) {
    if (a === 0) return b + ub;
    if (b === 0) return a + ua;
    return a + ua + " " + b + ub;
  }

  // relative mirrors times.go: the past cut to its unit, the future
  // rounded up to it.
  function relative(t, now) {
    var d = now - t, future = d < 0;
    if (future) d = -d;
    if (d < 1000) return "just now";
    var unit = 1000;
    if (d >= 86400000) unit = 3600000;
    else if (d >= 3600000) unit = 60000;
    var n = Math.floor(d / unit);
    if (future && d % unit !== 0) {
      n++;
      if (unit === 1000 && n >= 3600) { unit = 60000; n = Math.floor(n / 60); }
      else if (unit === 60000 && n >= 1440) { unit = 3600000; n = Math.floor(n / 60); }
    }
    var s;
    if (unit === 1000) s = pair(Math.floor(n / 60), "m", n % 60, "s");
    else if (unit === 60000) s = pair(Math.floor(n / 60), "h", n % 60, "m");
    else s = pair(Math.floor(n / 24), "d", n % 24, "h");
    return future ? "in " + s : s + " ago";
  }

  function tick() {
    var now = Date.now();
    var labels = document.querySelectorAll("span.ago[data-t]");
    for (var i = 0; i < labels.length; i++) {
      var t = Date.parse(labels[i].getAttribute("data-t"));
      if (!isNaN(t)) {
        var text = relative(t, now);
        if (labels[i].textContent !== text) labels[i].textContent = text;
      }
    }
  }
  setInterval(tick, 5000);
  window.vigilRelative = relative; // for the browser tests: the same words as the server
})();
