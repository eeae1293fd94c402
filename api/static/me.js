// The volunteer's phone (我的): register, log in with a code, my card, points and service time,
// history, teams (备案), the points shop, commendations and certificates.
"use strict";
(() => {
  const FACE = "me";
  const t = L.t;
  const note = L.$("#note");
  let phone = "";

  const status = (s) => t.status[s] || s;

  async function start() {
    if (!L.tokens.get(FACE)) {
      L.show(L.$("#home"), false);
      L.show(L.$("#guest"));
      return;
    }
    try {
      const me = await L.api(FACE, "/api/v1/me");
      if (me.kind !== "volunteer") { L.tokens.drop(FACE); return start(); }
      L.$("#hello").textContent = `${me.volunteer.name} · ${me.volunteer.phone}`;
    } catch (err) {
      if (err instanceof L.ApiError) return start();
      L.say(note, L.problemText(err), "bad");
      return;
    }
    L.show(L.$("#guest"), false);
    L.show(L.$("#home"));
    open("card");
  }

  // --- tabs: each panel loads when opened ----------------------------------------------------------
  const loaders = { card, points, history, teams, shop, honours };
  function open(name) {
    L.say(note, "");
    document.querySelectorAll("[data-tab]").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === name)));
    document.querySelectorAll("[data-panel]").forEach((p) => L.show(p, p.dataset.panel === name));
    loaders[name]().catch((err) => L.say(note, L.problemText(err), "bad"));
  }
  document.querySelectorAll("[data-tab]").forEach((b) => b.addEventListener("click", () => open(b.dataset.tab)));

  async function card() {
    const img = L.$("#card-image");
    if (!img.src) img.src = await L.blobUrl(FACE, "/api/v1/me/card.svg");
  }

  async function points() {
    const p = await L.api(FACE, "/api/v1/me/points");
    const rows = [
      [t.points, `${p.balance}（${t.available} ${p.available}）`],
      [t.service_hours, L.hours(p.service_minutes)],
      [t.star, "★".repeat(p.star_level) || "—"],
      [t.next_level, p.next_level ? L.hours(p.next_level.minutes_to_go) : t.top_level],
    ];
    L.$("#my-points").replaceChildren(
      L.el("p", { class: "big", id: "balance" }, `${p.balance} ${t.points}`),
      L.table(["", ""], rows),
    );
  }

  async function history() {
    const page = await L.api(FACE, "/api/v1/me/points/transfers?limit=50");
    L.$("#my-history").replaceChildren(page.items.length ? L.table(["", "", ""], page.items.map((x) => [
      L.dt(x.created_at), x.reason, `${x.amount > 0 ? "+" : ""}${x.amount} ${x.ledger === "points" ? t.points : t.minutes}`,
    ])) : L.el("p", { class: "muted" }, t.none));
  }

  async function teams() {
    const mine = (await L.api(FACE, "/api/v1/me/filings")).items;
    L.$("#my-filings").replaceChildren(mine.length
      ? L.table(["", ""], mine.map((f) => [f.team_name, status(f.status)]))
      : L.el("p", { class: "muted" }, t.none));
    const filed = new Set(mine.filter((f) => f.status !== "rejected").map((f) => f.team_id));
    const all = (await L.api(FACE, "/api/v1/teams?limit=200")).items;
    L.$("#teams").replaceChildren(L.table(["", ""], all.map((team) => [
      team.name,
      filed.has(team.id) ? "✓" : L.el("button", { type: "button", "data-team": team.id, onclick: () => apply(team.id) }, t.apply),
    ])));
  }
  async function apply(teamId) {
    try {
      await L.api(FACE, `/api/v1/teams/${teamId}/filings`, { method: "POST" });
      L.say(note, t.applied);
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
    teams();
  }

  async function shop() {
    const items = (await L.api(FACE, "/api/v1/shop/items")).items;
    L.$("#shop").replaceChildren(items.length ? L.table(["", t.cost, t.stock, ""], items.map((i) => [
      i.name, String(i.price), String(i.stock),
      L.el("button", { type: "button", disabled: i.stock < 1, onclick: () => order(i.id) }, t.exchange),
    ])) : L.el("p", { class: "muted" }, t.none));
    const orders = (await L.api(FACE, "/api/v1/me/orders")).items;
    L.$("#orders").replaceChildren(orders.length ? L.table(["", "", "", ""], orders.map((o) => [
      L.dt(o.created_at), o.item_name, String(o.points), status(o.status),
    ])) : L.el("p", { class: "muted" }, t.none));
  }
  async function order(itemId) {
    try {
      await L.api(FACE, "/api/v1/shop/orders", { method: "POST", body: { item_id: itemId, quantity: 1, request_id: L.uuid() } });
      L.say(note, t.ordered);
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
    shop();
  }

  async function honours() {
    const mine = (await L.api(FACE, "/api/v1/me/commendations")).items;
    L.$("#commendations").replaceChildren(mine.length ? L.table(["", "", ""], mine.map((c) => [
      c.round_title, c.reason, c.certificate ? L.el("a", { href: `/verify/${c.certificate}` }, t.verify) : "",
    ])) : L.el("p", { class: "muted" }, t.none));
    const certs = (await L.api(FACE, "/api/v1/me/certificates")).items;
    L.$("#certificates").replaceChildren(certs.length ? L.table(["", "", "", ""], certs.map((c) => [
      c.title, `${L.hours(c.minutes)} ${t.hours}`,
      L.el("a", { href: `/verify/${c.code}` }, t.verify),
      L.el("button", { type: "button", class: "secondary", onclick: () => download(c.code) }, t.download),
    ])) : L.el("p", { class: "muted" }, t.none));
  }
  async function download(code) {
    const url = await L.blobUrl(FACE, `/api/v1/me/certificates/${code}/pdf`);
    const a = L.el("a", { href: url, download: `${code}.pdf` });
    document.body.append(a); a.click(); a.remove();
  }

  // --- guest forms ---------------------------------------------------------------------------------
  // Registering proves the phone first: a code is sent to it, and the registration carries it. A
  // phone registered already is told only now (the code proved it), and the same code logs it in.
  async function askCode(number) {
    try {
      await L.api(FACE, "/api/v1/auth/codes", { method: "POST", body: { phone: number } });
      L.say(note, t.code_sent);
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
  }
  L.$("#register-code").addEventListener("click", () => {
    const form = L.$("#register-form");
    if (form.phone.reportValidity()) askCode(form.phone.value);
  });
  L.$("#register-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const body = { name: f.get("name"), phone: f.get("phone"), code: f.get("code"), consent: f.get("consent") === "on" };
    try {
      let r;
      try {
        r = await L.api(FACE, "/api/v1/volunteers", { method: "POST", body });
      } catch (err) {
        if (!(err instanceof L.ApiError) || err.problem.code !== "phone_taken") throw err;
        r = await L.api(FACE, "/api/v1/auth/tokens", { method: "POST", body: { phone: body.phone, code: body.code } });
      }
      L.tokens.set(FACE, r.token);
      L.say(note, "");
      start();
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
  });
  L.$("#code-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    phone = new FormData(ev.target).get("phone");
    askCode(phone);
  });
  L.$("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const code = new FormData(ev.target).get("code");
    phone = phone || L.$("#code-form").phone.value;
    try {
      const r = await L.api(FACE, "/api/v1/auth/tokens", { method: "POST", body: { phone, code } });
      L.tokens.set(FACE, r.token);
      L.say(note, "");
      start();
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
  });
  L.logout(FACE, start);
  start();
})();
