// The page a phone's camera opens from a station code: the volunteer's scan, and its answer. A
// phone not logged in logs in here (SMS code) and the scan goes on with the code it opened, which
// stays in the address; a code scanned too long ago is refused as expired: scan again.
"use strict";
(() => {
  const FACE = "me";
  const t = L.t;
  const box = L.$("#answer");
  const guest = L.$("#guest");
  const payload = location.href; // the station code scanned: kept while the volunteer logs in

  function answer(text, kind) {
    box.textContent = text;
    box.className = "notice big " + kind;
  }

  function loginFirst() {
    answer(t.login_first, "warn");
    L.show(guest);
    guest.querySelector("input").focus();
  }

  async function checkIn() {
    L.show(guest, false);
    answer(t.checking, "pending");
    let a;
    try {
      a = await L.api(FACE, "/api/v1/scans", { method: "POST", body: { payload, scan_id: L.uuid() } });
    } catch (err) {
      if (err instanceof L.ApiError && err.status === 401) return loginFirst(); // the token ran out
      answer(L.problemText(err), "bad");
      return;
    }
    if (a.reason === "expired_code") answer(t.expired, "bad");
    else answer(t.reasons[a.reason || a.outcome] || a.message,
      a.outcome === "rejected" ? "bad" : a.outcome === "duplicate" ? "warn" : "ok");
    const place = L.$("#activity");
    if (a.activity) {
      place.replaceChildren(
        L.el("p", { class: "muted" }, t.activity),
        L.el("p", { class: "title" }, a.activity.title),
        L.el("p", {}, `${L.dt(a.activity.starts_at)} – ${L.dt(a.activity.ends_at)}`));
    }
    L.show(place, Boolean(a.activity));
  }

  L.codeLogin(FACE, L.$("#note"), checkIn);
  if (L.tokens.get(FACE)) checkIn();
  else loginFirst();
})();
