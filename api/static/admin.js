// The hub's admin pages (枢纽管理): filings to decide, and the activity calendar where a clash at a
// station is shown before it is saved (the organization, team and place picked by name); the meal
// service's set-up is in admin_setup.js.
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

  const setup = window.AdminSetup(FACE, note);  // meal points, agreements, diners (admin_setup.js)
  const board = window.AdminDash(FACE, note);  // the hub's dashboard (admin_dash.js)
  const loaders = { filings, dashboard: board.dashboard, activities, ...setup, categories, rules, rounds, integrity };
  let hubs = null;
  let rule = null;  // the hub's current rules: a new version changes only what the form holds
  let orgs = null;  // the staff member's part of the tree (for the activity form)
  let stations = null;  // the stations they may book: their own and the shared ones
  // tables stack into one block per row on a phone (linli.css `table.stack`)
  const table = (headers, rows) => { const tbl = L.table(headers, rows); tbl.classList.add("stack"); return tbl; };
  function open(name) {
    L.say(note, "");
    board.stop();  // the dashboard refreshes only while it is shown
    document.querySelectorAll("[data-tab]").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === name)));
    document.querySelectorAll("[data-panel]").forEach((p) => L.show(p, p.dataset.panel === name));
    loaders[name]().catch((err) => {
      if (err instanceof L.ApiError && err.status === 401) return start();
      L.say(note, L.problemText(err), "bad");
    });
  }
  document.querySelectorAll("[data-tab]").forEach((b) => b.addEventListener("click", () => open(b.dataset.tab)));

  const filingsTicket = L.latest();  // each list below is drawn from its latest load only (L.latest)
  async function filings() {
    const current = filingsTicket();
    const page = await L.api(FACE, "/api/v1/filings?status=pending&limit=100");
    if (!current()) return;
    L.$("#filings").replaceChildren(page.items.length ? table(["", "", "", ""], page.items.map((f) => [
      `${f.volunteer_name || ""} ${f.volunteer_phone || ""}`, L.el("span", { class: "team" }, f.team_name), L.dt(f.created_at),
      L.el("span", { class: "actions" },
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
  const activitiesTicket = L.latest();
  async function activities() {
    const current = activitiesTicket();
    await loadPlaces();
    const from = new Date(); from.setHours(0, 0, 0, 0);
    const to = new Date(from.getTime() + 7 * 86400000);
    const page = await L.api(FACE, `/api/v1/activities?starts_from=${from.toISOString()}&starts_before=${to.toISOString()}&limit=200`);
    if (!current()) return;
    const items = page.items;
    const clashes = new Set();
    const live = items.filter((a) => !a.cancelled_at);  // a cancelled one holds no place
    for (const a of live) for (const b of live) {
      if (a.id < b.id && a.station_id === b.station_id && a.starts_at < b.ends_at && b.starts_at < a.ends_at) { clashes.add(a.id); clashes.add(b.id); }
    }
    const days = [];
    for (let i = 0; i < 7; i++) {
      const day = new Date(from.getTime() + i * 86400000);
      const key = L.dt(day.toISOString()).slice(0, 10);
      const todays = items.filter((a) => L.dt(a.starts_at).slice(0, 10) === key);
      days.push(L.el("div", { class: "card" },
        L.el("strong", {}, `${key} ${t.weekdays[(day.getDay() + 6) % 7]}`),
        todays.length ? L.el("ul", {}, todays.map((a) => L.el("li", { class: clashes.has(a.id) ? "notice warn" : "", "data-activity": a.id },
          `${L.dt(a.starts_at).slice(-5)}–${L.dt(a.ends_at).slice(-5)} ${a.title} · ${stationName(a.station_id)} · ${t.places} ${a.capacity}${clashes.has(a.id) ? " · " + t.clash : ""}`,
          ...cancelling(a)))) : L.el("p", { class: "muted" }, t.none)));
    }
    L.$("#calendar").replaceChildren(...days);
  }

  // cancelled: said so with the reason; not over yet: a button that asks for the reason, then cancels
  function cancelling(a) {
    if (a.cancelled_at) return [" · ", L.el("strong", { class: "cancelled" }, `${t.activity_cancelled}：${a.cancel_reason}`)];
    if (new Date(a.ends_at) <= new Date()) return [];
    const form = L.el("form", { class: "cancel-form hidden" },
      L.el("input", { name: "reason", required: "", maxlength: "200", placeholder: t.cancel_reason, "aria-label": t.cancel_reason }),
      " ", L.el("button", { type: "submit" }, t.confirm_cancel));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await L.api(FACE, `/api/v1/activities/${a.id}/cancel`, { method: "POST", body: { reason: form.reason.value } });
        L.say(note, t.cancelled_done);
      } catch (err) { L.say(note, L.problemText(err), "bad"); }
      activities();
    });
    const button = L.el("button", { type: "button", class: "secondary", "data-cancel-activity": a.id,
      onclick: () => { L.show(form); L.show(button, false); form.reason.focus(); } }, t.cancel_activity);
    return [" ", button, form];
  }

  // the form's choices by name: organizations (not teams), the chosen one's teams, bookable places
  async function loadPlaces() {
    if (orgs) return;
    orgs = await L.all(FACE, "/api/v1/organizations");
    stations = await L.all(FACE, "/api/v1/stations");
    const options = (select, list, label) => select.replaceChildren(...list.map((x) => L.el("option", { value: x.id }, label(x))));
    options(L.$("#activity-org"), orgs.filter((o) => o.kind !== "team"), (o) => o.name);
    options(L.$("#activity-station"), stations, (s) => (s.shared ? `${s.name}（${t.shared_station}）` : s.name));
    teams();
  }
  function teams() {
    const org = Number(L.$("#activity-org").value);
    const byId = new Map(orgs.map((o) => [o.id, o]));
    const under = (o) => { for (let p = o; p; p = byId.get(p.parent_id)) if (p.id === org) return true; return false; };
    L.$("#activity-team").replaceChildren(L.el("option", { value: "" }, t.any_team),
      ...orgs.filter((o) => o.kind === "team" && under(o)).map((o) => L.el("option", { value: o.id }, o.name)));
  }
  const stationName = (id) => ((stations || []).find((s) => s.id === id) || { name: `#${id}` }).name;
  function activityBody() {
    const f = Object.fromEntries(new FormData(L.$("#activity-form")));
    return {
      title: f.title, org_id: Number(f.org_id), station_id: Number(f.station_id), capacity: Number(f.capacity),
      kind: f.kind, description: f.description, team_ids: f.team_id ? [Number(f.team_id)] : null,
      starts_at: f.starts_at && new Date(f.starts_at).toISOString(), ends_at: f.ends_at && new Date(f.ends_at).toISOString(),
    };
  }
  function showClash(c) {
    const box = L.$("#activity-clash");
    if (!c) return L.show(box, false);
    L.say(box, `${t.clash_with}：${c.title} ${L.dt(c.starts_at)}–${L.dt(c.ends_at).slice(-5)}`, "warn");
  }
  // before saving: whatever already holds the place in that window (any organization's)
  async function checkClash() {
    const b = activityBody();
    if (!b.station_id || !b.starts_at || !b.ends_at || b.ends_at <= b.starts_at) return showClash(null);
    const q = `station_id=${b.station_id}&starts_before=${encodeURIComponent(b.ends_at)}&ends_after=${encodeURIComponent(b.starts_at)}&limit=20`;
    showClash((await L.api(FACE, `/api/v1/activities?${q}`)).items.find((a) => !a.cancelled_at));
  }


  const bandText = (c) => (c.max_age == null ? `${c.min_age}${t.years_over}` : `${c.min_age}–${c.max_age}${t.years}`);

  // --- the county's subsidy categories (county administrators change them) ----------------------
  const categoriesTicket = L.latest();
  async function categories() {
    const current = categoriesTicket();
    const items = (await L.api(FACE, "/api/v1/meal-categories")).items;
    if (!current()) return;
    L.$("#categories").replaceChildren(table(["", "", "", "", ""], items.map((c) => [
      L.el("strong", {}, c.name), L.el("code", {}, c.code),
      c.automatic ? bandText(c) : "",
      c.retired ? t.category_status.retired : c.own ? t.category_status.own : t.category_status.default,
      L.el("span", { class: "actions" },
        L.el("button", { type: "button", class: "secondary", onclick: () => changeCategory(c, { retired: !c.retired }) }, c.retired ? t.unretire : t.retire), " ",
        L.el("button", { type: "button", class: "secondary", onclick: () => { const name = window.prompt(t.new_name, c.name); if (name) changeCategory(c, { name }); } }, t.rename)),
    ])));
  }
  async function changeCategory(c, body) {
    try {
      await L.api(FACE, `/api/v1/meal-categories/${encodeURIComponent(c.code)}`, { method: "PATCH", body });
      L.say(note, t.saved);
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
    categories().catch((err) => L.say(note, L.problemText(err), "bad"));
  }
  async function addCategory() {
    const f = Object.fromEntries(new FormData(L.$("#category-form")));
    const age = (v) => (v === "" || v == null ? null : Number(v));
    await L.api(FACE, "/api/v1/meal-categories", {
      method: "POST", body: { code: f.code.trim(), name: f.name.trim(), min_age: age(f.min_age), max_age: age(f.max_age) },
    });
    L.say(note, t.category_added);
    L.$("#category-form").reset();
    await categories();
  }

  // --- earning rules and commendation rounds, per hub ---------------------------------------------
  async function loadHubs() {
    if (!hubs) hubs = (await L.api(FACE, "/api/v1/organizations?kind=hub&limit=200")).items;
    for (const select of document.querySelectorAll(".hub-select")) {
      if (!select.options.length) for (const h of hubs) select.append(L.el("option", { value: h.id }, h.name));
    }
    return hubs;
  }

  const rulesTicket = L.latest();
  async function rules() {
    const current = rulesTicket();
    await loadHubs();
    const hub = L.$("#rule-hub").value;
    if (!hub) return L.$("#rule").replaceChildren(L.el("p", { class: "muted" }, t.none));
    const page = await L.api(FACE, `/api/v1/hubs/${hub}/points-rules`);
    if (!current()) return;
    const r = (rule = page.items[page.items.length - 1]);  // oldest first: the last is in force
    if (!r) return L.$("#rule").replaceChildren(L.el("p", { class: "muted" }, t.default_rule));
    L.$("#rule").replaceChildren(L.table(["", ""], [
      [t.version, String(r.version)],
      [t.per_hour, Object.entries(r.points_per_hour).map(([k, v]) => `${k} ${v}`).join(" · ")],
      [t.delivery_points, String(r.delivery_points)],
      [t.daily_cap, String(r.daily_cap)],
      [t.expiry_years, r.expiry_years === null ? t.never : String(r.expiry_years)],
      [t.star_hours, r.star_hours.join(" / ")],
    ]));
    const f = L.$("#rule-form");
    f.per_hour.value = r.points_per_hour.default ?? "";
    f.delivery_points.value = r.delivery_points;
    f.daily_cap.value = r.daily_cap;
  }

  const roundsTicket = L.latest();
  async function rounds() {
    const current = roundsTicket();
    await loadHubs();
    const hub = L.$("#round-hub").value;
    if (!hub) return;
    const list = await L.all(FACE, `/api/v1/hubs/${hub}/commendation-rounds`);
    if (!current()) return;
    L.$("#rounds").replaceChildren(...(list.length ? list.map((r) => L.el("div", { class: "card" },
      L.el("h2", {}, `${r.title} · ${r.period_start} – ${r.period_end} · ${t.round_status[r.status] || r.status}`),
      r.rules.floor_minutes ? L.el("p", {}, `${t.min_hours} ${L.hours(r.rules.floor_minutes)} ${t.hours}`) : null,
      table(["", "", "", ""], r.commendations.map((c) => [
        c.volunteer_name, `${L.hours(c.minutes)} ${t.hours}`, c.reason,
        r.status === "proposed"
          ? L.el("button", { type: "button", class: "secondary", onclick: () => review(r.id, c.volunteer_id, c.status !== "proposed") }, c.status === "proposed" ? t.exclude : t.include)
          : t.status[c.status] || c.status,
      ])),
      r.status === "proposed" ? L.el("button", { type: "button", "data-confirm": r.id, onclick: () => confirmRound(r.id) }, t.confirm) : null,
    )) : [L.el("p", { class: "muted" }, t.none)]));
  }
  async function review(roundId, volunteerId, include) {
    try {
      await L.api(FACE, `/api/v1/commendation-rounds/${roundId}/review`, { method: "POST", body: { volunteer_id: volunteerId, include, reason: "" } });
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
    rounds();
  }
  // 核查: offline meals and attendances held for review, and the day's anomalies (docs/integrity.md)
  const integrityTicket = L.latest();
  async function integrity() {
    const current = integrityTicket();
    const held = await L.api(FACE, "/api/v1/integrity/flags?status=held&limit=200");
    const open = await L.api(FACE, "/api/v1/integrity/flags?status=open&limit=200");
    if (!current()) return;
    const rows = [...held.items, ...open.items].map((f) => [
      t.flag_kinds[f.kind] || f.kind, f.subject, L.dt(f.detected_at),
      f.held
        ? L.el("span", {},
          L.el("button", { type: "button", onclick: () => decideFlag(f.id, "approve") }, t.approve), " ",
          L.el("button", { type: "button", class: "secondary", onclick: () => decideFlag(f.id, "reject") }, t.reject))
        : L.el("button", { type: "button", class: "secondary", onclick: () => decideFlag(f.id, "dismiss") }, t.dismiss),
    ]);
    L.$("#flags").replaceChildren(rows.length ? L.table([t.flag_kind, t.subject, t.detected, ""], rows) : L.el("p", { class: "muted" }, t.none));
  }
  async function decideFlag(id, what) {
    const reason = what === "reject" ? window.prompt(t.reject_reason) : "";
    if (reason === null) return;
    const url = what === "dismiss" ? `/api/v1/integrity/flags/${id}/dismiss` : `/api/v1/holds/${id}/${what}`;
    try {
      await L.api(FACE, url, { method: "POST", body: { note: reason || null } });
      L.say(note, t.decided);
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
    integrity();
  }

  async function confirmRound(roundId) {
    try {
      await L.api(FACE, `/api/v1/commendation-rounds/${roundId}/confirm`, { method: "POST" });
      L.say(note, t.confirmed);
    } catch (err) {
      const early = err instanceof L.ApiError && err.problem.code === "round_not_over";
      L.say(note, early ? `${t.not_over}（${err.problem.period_end}）` : L.problemText(err), "bad");
    }
    rounds();
  }

  L.$("#category-form").addEventListener("submit", (ev) => { ev.preventDefault(); addCategory().catch((err) => L.say(note, L.problemText(err), "bad")); });
  L.$("#rule-hub").addEventListener("change", () => rules());
  L.$("#round-hub").addEventListener("change", () => rounds());
  L.$("#rule-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const perHour = { ...((rule && rule.points_per_hour) || {}), default: Number(f.get("per_hour")) };
    const body = { points_per_hour: perHour, delivery_points: Number(f.get("delivery_points")), daily_cap: Number(f.get("daily_cap")) };
    try {
      await loadHubs();  // a quick hand can submit before the hubs have come: the hub is then picked
      await L.api(FACE, `/api/v1/hubs/${L.$("#rule-hub").value}/points-rules`, { method: "POST", body });
      L.say(note, t.rule_saved);
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
    rules();
  });
  L.$("#round-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const { min_hours: minHours, ...f } = Object.fromEntries(new FormData(ev.target));
    const body = { ...f, bonus_points: Number(f.bonus_points || 0), rules: { floor_minutes: Math.round(Number(minHours) * 60) } };
    try {
      await loadHubs();  // as for the rules
      await L.api(FACE, `/api/v1/hubs/${L.$("#round-hub").value}/commendation-rounds`, { method: "POST", body });
      L.say(note, t.proposed_round);
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
    rounds();
  });

  L.$("#activity-org").addEventListener("change", teams);
  for (const name of ["station_id", "starts_at", "ends_at"]) {
    L.$(`#activity-form [name=${name}]`).addEventListener("change", () => checkClash().catch(() => showClash(null)));
  }
  L.$("#activity-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await L.api(FACE, "/api/v1/activities", { method: "POST", body: activityBody() });
      L.say(note, t.created);
      showClash(null);
    } catch (err) {
      const c = err instanceof L.ApiError && err.problem.clash;
      showClash(c || null);
      L.say(note, c ? `${t.clash}：${c.title} ${L.dt(c.starts_at)}–${L.dt(c.ends_at).slice(-5)}` : L.problemText(err), "bad");
    }
    activities();
  });
  L.staffLogin(FACE, note, start);
  L.logout(FACE, start);
  start();
})();
