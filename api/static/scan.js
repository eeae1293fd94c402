// The page a phone's camera opens from a station code: the volunteer's scan, and its answer.
"use strict";
(async () => {
  const box = L.$("#answer");
  if (!L.tokens.get("me")) {
    box.textContent = L.t.login_first;
    return;
  }
  try {
    const a = await L.api("me", "/api/v1/scans", { method: "POST", body: { payload: location.href, scan_id: L.uuid() } });
    box.textContent = L.t.reasons[a.reason || a.outcome] || a.message;
    box.className = "notice big " + (a.outcome === "rejected" ? "bad" : a.outcome === "duplicate" ? "warn" : "ok");
  } catch (err) {
    box.textContent = L.problemText(err);
    box.className = "notice big bad";
  }
})();
