// The partner portal (合作企业): the dashboard first (看板, dash.js: a settled month, the last
// one when none is picked, day by day or week by week), then request a report, watch it finish, download it; past (monthly)
// reports; the webhook; API keys (create, shown once, revoke).
"use strict";
(() => {
  const FACE = "partner";
  const t = L.t;
  const note = L.$("#note");
  let partner = null;
  let polling = null;
  // the dashboard of the month picked (empty: the API's default, the last settled month)
  const board = Dash.mount(L.$("#partner-dash"), {
    face: FACE,
    url: () => {
      const f = L.$("#dash-form");
      const q = new URLSearchParams();
      if (f.month.value) q.set("month", f.month.value);
      if (f.granularity.value !== "day") q.set("granularity", f.granularity.value);
      return `/api/v1/dashboards/partner${q.size ? "?" + q : ""}`;
    },
    onError: (err) => L.say(note, L.problemText(err), "bad"),
  });

  async function start() {
    if (!L.tokens.get(FACE)) {
      board.stop();
      L.show(L.$("#portal"), false);
      L.show(L.$("#login"));
      return;
    }
    try {
      const me = await L.api(FACE, "/api/v1/me");
      const grant = (me.grants || []).find((g) => g.role === "partner");
      partner = grant ? grant.partner_id : null;
    } catch (err) {
      if (err instanceof L.ApiError) return start();
      return L.say(note, L.problemText(err), "bad");
    }
    L.show(L.$("#login"), false);
    L.show(L.$("#portal"));
    const today = new Date();
    const first = new Date(today.getFullYear(), today.getMonth() - 1, 1);
    const last = new Date(today.getFullYear(), today.getMonth(), 0);
    const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
    const form = L.$("#report-form");
    if (!form.period_start.value) { form.period_start.value = iso(first); form.period_end.value = iso(last); }
    board.load();
    reports();
    keys();
  }

  async function reports() {
    clearTimeout(polling);
    const page = await L.api(FACE, "/api/v1/reports?limit=50");
    L.$("#reports").replaceChildren(page.items.length ? L.table(["", "", "", "", ""], page.items.map((r) => [
      `${t.kinds[r.kind] || r.kind} · ${r.format.toUpperCase()}`,
      `${r.period_start} – ${r.period_end}`,
      L.dt(r.created_at),
      L.el("span", { "data-status": r.status }, t.status[r.status] || r.status),
      r.file ? L.el("button", { type: "button", "data-download": r.id, onclick: () => download(r) }, t.download) : (r.error || ""),
    ])) : L.el("p", { class: "muted" }, t.none));
    // watch it finish: look again while any report is still being made
    if (page.items.some((r) => r.status === "queued" || r.status === "running")) polling = setTimeout(reports, 1500);
  }

  async function download(r) {
    const url = await L.blobUrl(FACE, r.file);
    const name = `linli-${r.kind}-${r.period_start}-${r.period_end}.${r.format}`;
    const a = L.el("a", { href: url, download: name });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  async function keys() {
    if (!partner) return;
    const list = await L.all(FACE, `/api/v1/partners/${partner}/api-keys`);
    L.$("#keys").replaceChildren(list.length ? L.table(["", "", "", ""], list.map((k) => [
      k.name, `${k.prefix}…`, L.dt(k.created_at),
      k.revoked_at ? t.revoked : L.el("button", { type: "button", class: "danger", onclick: () => revoke(k.id) }, t.revoke),
    ])) : L.el("p", { class: "muted" }, t.none));
  }
  async function revoke(id) {
    try { await L.api(FACE, `/api/v1/partners/${partner}/api-keys/${id}/revoke`, { method: "POST" }); }
    catch (err) { L.say(note, L.problemText(err), "bad"); }
    keys();
  }

  L.$("#dash-form").addEventListener("submit", (ev) => { ev.preventDefault(); L.say(note, ""); board.load(); });
  L.$("#report-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = Object.fromEntries(new FormData(ev.target));
    try {
      await L.api(FACE, "/api/v1/reports", { method: "POST", body: f });
      L.say(note, t.requested);
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
    reports();
  });
  L.$("#webhook-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await L.api(FACE, `/api/v1/partners/${partner}/webhook`, { method: "PUT", body: { url: ev.target.url.value } });
      L.say(L.$("#webhook-secret"), `${t.secret_once} ${r.secret}`, "warn");
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
  });
  L.$("#key-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await L.api(FACE, `/api/v1/partners/${partner}/api-keys`, { method: "POST", body: { name: new FormData(ev.target).get("name") } });
      L.say(L.$("#new-key"), `${t.key_once} ${r.key}`, "warn");
      ev.target.reset();
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
    keys();
  });
  L.staffLogin(FACE, note, start);
  L.logout(FACE, start);
  start();
})();
