// The hub's admin pages (枢纽管理): filings to decide, and the activity calendar where a clash at a
// station is shown before it is saved.
"use strict";
(() => {
  const FACE = "admin";
  const t = L.t;
  const note = L.$("#note");

  async function start() {
    if (!L.tokens.get(FACE)) {
      L.show(L.$("#desk"), false);
      L.show(L.$("#login"));
      return;
    }
    L.show(L.$("#login"), false);
    L.show(L.$("#desk"));
    open("filings");
  }

  const loaders = { filings, activities };
  function open(name) {
    document.querySelectorAll("[data-tab]").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === name)));
    document.querySelectorAll("[data-panel]").forEach((p) => L.show(p, p.dataset.panel === name));
    loaders[name]().catch((err) => {
      if (err instanceof L.ApiError && err.status === 401) return start();
      L.say(note, L.problemText(err), "bad");
    });
  }
  document.querySelectorAll("[data-tab]").forEach((b) => b.addEventListener("click", () => open(b.dataset.tab)));

  async function filings() {
    const page = await L.api(FACE, "/api/v1/filings?status=pending&limit=100");
    L.$("#filings").replaceChildren(page.items.length ? L.table(["", "", "", ""], page.items.map((f) => [
      `${f.volunteer_name || ""} ${f.volunteer_phone || ""}`, f.team_name, L.dt(f.created_at),
      L.el("span", {},
        L.el("button", { type: "button", "data-approve": f.id, onclick: () => decide(f.id, "approve") }, t.approve), " ",
        L.el("button", { type: "button", class: "secondary", onclick: () => decide(f.id, "reject") }, t.reject)),
    ])) : L.el("p", { class: "muted" }, t.none));
  }
  async function decide(id, what) {
    try {
      await L.api(FACE, `/api/v1/filings/${id}/${what}`, { method: "POST", body: {} });
      L.say(note, t.decided);
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
    filings();
  }

  // the coming week, day by day; activities that overlap at one station are marked
  async function activities() {
    const from = new Date(); from.setHours(0, 0, 0, 0);
    const to = new Date(from.getTime() + 7 * 86400000);
    const page = await L.api(FACE, `/api/v1/activities?starts_from=${from.toISOString()}&starts_before=${to.toISOString()}&limit=200`);
    const items = page.items;
    const clashes = new Set();
    for (const a of items) for (const b of items) {
      if (a.id < b.id && a.station_id === b.station_id && a.starts_at < b.ends_at && b.starts_at < a.ends_at) { clashes.add(a.id); clashes.add(b.id); }
    }
    const days = [];
    for (let i = 0; i < 7; i++) {
      const day = new Date(from.getTime() + i * 86400000);
      const key = L.dt(day.toISOString()).slice(0, 10);
      const todays = items.filter((a) => L.dt(a.starts_at).slice(0, 10) === key);
      days.push(L.el("div", { class: "card" },
        L.el("strong", {}, `${key} ${t.weekdays[(day.getDay() + 6) % 7]}`),
        todays.length ? L.el("ul", {}, todays.map((a) => L.el("li", { class: clashes.has(a.id) ? "notice warn" : "" },
          `${L.dt(a.starts_at).slice(-5)}–${L.dt(a.ends_at).slice(-5)} ${a.title} · #${a.station_id} · ${t.places} ${a.capacity}${clashes.has(a.id) ? " · " + t.clash : ""}`))) : L.el("p", { class: "muted" }, t.none)));
    }
    L.$("#calendar").replaceChildren(...days);
  }

  L.$("#activity-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = Object.fromEntries(new FormData(ev.target));
    const body = {
      title: f.title, org_id: Number(f.org_id), station_id: Number(f.station_id), capacity: Number(f.capacity),
      starts_at: new Date(f.starts_at).toISOString(), ends_at: new Date(f.ends_at).toISOString(),
    };
    try {
      await L.api(FACE, "/api/v1/activities", { method: "POST", body });
      L.say(note, t.created);
    } catch (err) {
      const c = err instanceof L.ApiError && err.problem.clash;
      L.say(note, c ? `${t.clash}：${c.title} ${L.dt(c.starts_at)}–${L.dt(c.ends_at).slice(-5)}` : L.problemText(err), "bad");
    }
    activities();
  });
  L.$("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    try {
      const r = await L.api(FACE, "/api/v1/auth/tokens", { method: "POST", body: { username: f.get("username"), password: f.get("password") } });
      L.tokens.set(FACE, r.token);
      L.say(note, "");
      start();
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
  });
  L.$("#logout").addEventListener("click", async () => {
    try { await L.api(FACE, "/api/v1/auth/tokens/current", { method: "DELETE" }); } catch (e) { /* gone anyway */ }
    L.tokens.drop(FACE);
    start();
  });
  start();
})();
