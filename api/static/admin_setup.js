// The hub's set-up (枢纽管理): meal points, funding agreements and diners made and edited. An edit
// asks for its reason; a price or a schedule changes from a day (today or later), so meals already
// served keep theirs. Each row's history (who, when, why, what) is listed under its form.
"use strict";
window.AdminSetup = (FACE, note) => {
  const t = L.t;
  const SLOTS = ["breakfast", "lunch", "dinner"];
  const table = (headers, rows) => { const tbl = L.table(headers, rows); tbl.classList.add("stack"); return tbl; };
  const fen = (yuan) => Math.round(Number(yuan) * 100);
  const yuanValue = (f) => (f / 100).toFixed(2);
  const tomorrow = () => { const d = new Date(`${L.today()}T12:00:00Z`); d.setUTCDate(d.getUTCDate() + 1); return d.toISOString().slice(0, 10); };
  let mealPoints = null;
  let orgs = null;
  let categories = null;
  const editing = { point: null, agreement: null, diner: null };

  async function loadPoints(fresh = false) {
    if (!mealPoints || fresh) mealPoints = (await L.all(FACE, "/api/v1/meal-points")).sort((a, b) => a.name.localeCompare(b.name, "zh"));
    return mealPoints;
  }
  const pointName = (id) => ((mealPoints || []).find((p) => p.id === id) || { name: `#${id}` }).name;
  // the categories of the county of the admin's meal points (names for tiers and lists)
  async function loadCategories() {
    const points = await loadPoints();
    if (!categories) categories = await L.all(FACE, `/api/v1/meal-categories${points.length ? `?meal_point_id=${points[0].id}` : ""}`);
    return categories;
  }
  const categoryName = (code) => (code === "*" ? t.everyone : ((categories || []).find((c) => c.code === code) || { name: code }).name);

  // a form for making (`row` null) or editing a row: create-only and edit-only fields shown as fit
  function openForm(form, title, row) {
    form.querySelector("[data-title]").textContent = title;
    form.querySelectorAll(".create-only").forEach((n) => L.show(n, !row));
    form.querySelectorAll(".edit-only").forEach((n) => L.show(n, Boolean(row)));
    if (form.reason) { form.reason.value = ""; form.reason.required = Boolean(row); }
    L.show(form);
    form.scrollIntoView({ block: "start" });
  }
  function closeForm(form, history) {
    L.show(form, false);
    history.replaceChildren();
  }
  async function save(form, path, method, body, done) {
    try {
      await L.api(FACE, path, { method, body });
      L.say(note, t.saved);
      await done();
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
  }

  // a row's history: newest first, each change's before and after
  function shown(key, v) {
    if (v === null || v === undefined || v === "" || (Array.isArray(v) && !v.length)) return "—";
    if (key === "categories") return v.map(categoryName).join("、");
    if (key === "meal_point_ids") return v.map(pointName).join("、");
    if (key === "schedule") return tierText(v);
    if (key === "budget_cap") return L.yuan(v);
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  }
  function fieldName(key) {
    const [first, slot, part] = key.split(".");
    if (first === "slots") return `${t.slot_names[slot] || slot}${part ? " " + ({ price: "¥", starts: "⏱", ends: "⏱" }[part] || part) : ""}`;
    return t.fields[first] || first;
  }
  async function history(box, path) {
    const page = await L.api(FACE, `${path}/history?limit=50`);
    box.replaceChildren(L.el("h3", {}, t.history), page.items.length ? table(["", "", "", ""], page.items.map((h) => [
      L.dt(h.at),
      `${h.staff_name || "—"} · ${t.actions[h.action.split(".").pop()] || h.action}${h.effective_from ? ` · ${t.from_day} ${h.effective_from}` : ""}`,
      h.reason || "",
      L.el("ul", {}, Object.entries(h.changes).map(([k, c]) => L.el("li", {}, `${fieldName(k)}：${shown(k, c.before)} → ${shown(k, c.after)}`))),
    ])) : L.el("p", { class: "muted" }, t.no_history));
  }

  // --- meal points: slots and prices, a new price from a day --------------------------------------
  const pointsTicket = L.latest();  // each list below is drawn from its latest load only (L.latest)
  async function points() {
    const current = pointsTicket();
    const list = await loadPoints(true);
    if (!current()) return;
    L.$("#meal-points").replaceChildren(list.length ? table(["", "", t.counter, t.capacity, ""], list.map((p) => [
      L.el("strong", {}, p.name),
      L.el("span", {}, p.address, L.el("br"), p.slots.map((s) => `${t.slot_names[s.slot] || s.slot} ${s.starts}–${s.ends} ${L.yuan(s.price)}`
        + s.upcoming.map((u) => `（${u.effective_from} ${t.from_day} ${L.yuan(u.price)}）`).join("")).join(" · ")),
      `#${p.station_id}`, String(p.daily_capacity),
      L.el("button", { type: "button", class: "secondary", "data-edit-point": p.id, onclick: () => editPoint(p) }, t.edit),
    ])) : L.el("p", { class: "muted" }, t.none));
  }
  function slotRows(slots) {
    L.$("#point-slots").replaceChildren(table([t.slot, t.starts, t.ends, t.price_yuan], SLOTS.map((name) => {
      const s = slots.find((x) => x.slot === name);
      return [
        L.el("label", {}, L.el("input", { type: "checkbox", name: `serve_${name}`, checked: s ? "checked" : null }), ` ${t.slot_names[name]}`),
        L.el("input", { type: "time", name: `starts_${name}`, value: s ? s.starts : "", "aria-label": `${t.slot_names[name]} start` }),
        L.el("input", { type: "time", name: `ends_${name}`, value: s ? s.ends : "", "aria-label": `${t.slot_names[name]} end` }),
        L.el("input", { type: "number", name: `price_${name}`, min: "0", step: "0.01", value: s ? yuanValue(s.price) : "", "aria-label": `${t.slot_names[name]} ¥` }),
      ];
    })));
  }
  function editPoint(p) {
    const form = L.$("#point-form");
    editing.point = p;
    openForm(form, `${t.edit_point}：${p.name}`, p);
    form.name.value = p.name; form.address.value = p.address; form.daily_capacity.value = p.daily_capacity;
    form.effective_from.value = tomorrow();
    slotRows(p.slots);
    history(L.$("#point-history"), `/api/v1/meal-points/${p.id}`).catch(() => {});
  }
  async function newPoint() {
    if (!orgs) orgs = await L.all(FACE, "/api/v1/organizations");
    const select = L.$("#point-org");
    select.replaceChildren(...orgs.filter((o) => o.kind !== "team").map((o) => L.el("option", { value: o.id }, o.name)));
    const form = L.$("#point-form");
    editing.point = null;
    form.reset();
    openForm(form, t.new_point, null);
    slotRows([{ slot: "lunch", starts: "11:00", ends: "13:00", price: 1200 }]);
    L.$("#point-history").replaceChildren();
  }
  function pointBody(form) {
    const f = new FormData(form);
    const slots = SLOTS.filter((n) => f.get(`serve_${n}`)).map((n) => ({
      slot: n, starts: f.get(`starts_${n}`), ends: f.get(`ends_${n}`), price: fen(f.get(`price_${n}`) || 0),
    }));
    return { name: f.get("name"), address: f.get("address"), daily_capacity: Number(f.get("daily_capacity")), slots };
  }
  L.$("#point-new").addEventListener("click", () => newPoint().catch((err) => L.say(note, L.problemText(err), "bad")));
  L.$("#point-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const p = editing.point;
    const body = pointBody(form);
    const done = async () => { await points(); const again = mealPoints.find((x) => x.id === (p && p.id)); if (again) editPoint(again); else closeForm(form, L.$("#point-history")); };
    if (!p) return save(form, "/api/v1/meal-points", "POST", { ...body, org_id: Number(form.org_id.value) }, done);
    const repriced = body.slots.some((s) => { const was = p.slots.find((x) => x.slot === s.slot); return was && was.price !== s.price; });
    return save(form, `/api/v1/meal-points/${p.id}`, "PATCH", {
      ...body, reason: form.reason.value, effective_from: repriced ? form.effective_from.value || null : null,
    }, done);
  });

  // --- funding agreements: tiers in a table, a budget top-up, an end date -----------------------
  const agreementsTicket = L.latest();
  async function agreements() {
    const current = agreementsTicket();
    await Promise.all([loadPoints(), loadCategories()]);
    const list = await L.all(FACE, "/api/v1/funding-agreements");
    if (!current()) return;
    L.$("#agreements").replaceChildren(list.length ? table(["", t.period, t.used_of_cap, t.points, ""], list.map((a) => [
      L.el("span", {}, L.el("strong", {}, a.name), ` · ${t.funder_kinds[a.funder_kind] || a.funder_kind}`, L.el("br"), tierText(a.schedule),
        a.upcoming.length ? L.el("span", { class: "muted" }, L.el("br"), a.upcoming.map((v) => `${t.upcoming} ${v.effective_from}：${tierText(v.schedule)}`).join("；")) : null),
      `${a.starts_on} – ${a.ends_on}`,
      `${L.yuan(a.budget_used)} / ${L.yuan(a.budget_cap)}`,
      a.meal_point_ids.map(pointName).join("、"),
      L.el("button", { type: "button", class: "secondary", "data-edit-agreement": a.id, onclick: () => editAgreement(a) }, t.edit),
    ])) : L.el("p", { class: "muted" }, t.none));
    return list;
  }
  const tierText = (schedule) => schedule.map((x) => `${x.categories.map(categoryName).join("/")} ${x.slots.map((s) => t.slot_names[s] || s).join("/")} ${"amount" in x ? L.yuan(x.amount) : x.percent + "%"}`).join("；");
  function tierRow(tier) {
    const options = [{ code: "*", name: t.everyone }, ...categories];
    // a tier's cap, minimum payment and minimum price are kept as they were
    const extra = Object.fromEntries(Object.entries(tier).filter(([k]) => ["cap", "min_self_pay", "min_price"].includes(k)));
    return L.el("tr", { class: "tier", "data-extra": JSON.stringify(extra) },
      L.el("td", {}, L.el("strong", { class: "chosen" }, tier.categories.map(categoryName).join("、")),
        L.el("select", {
          multiple: "multiple", name: "categories", size: "3", "aria-label": t.fields.categories,
          onchange: (ev) => { ev.target.previousSibling.textContent = [...ev.target.selectedOptions].map((o) => o.textContent).join("、"); },
        }, options.map((c) => L.el("option", { value: c.code, selected: tier.categories.includes(c.code) ? "selected" : null }, c.name)))),
      L.el("td", {}, SLOTS.map((s) => L.el("label", {}, L.el("input", { type: "checkbox", name: "slot", value: s, checked: tier.slots.includes(s) ? "checked" : null }), t.slot_names[s]))),
      L.el("td", {}, L.el("select", { name: "kind" },
        L.el("option", { value: "amount", selected: "amount" in tier ? "selected" : null }, t.amount),
        L.el("option", { value: "percent", selected: "percent" in tier ? "selected" : null }, t.percent))),
      L.el("td", {}, L.el("input", { type: "number", name: "value", min: "0", step: "0.01", value: "amount" in tier ? yuanValue(tier.amount) : String(tier.percent ?? ""), "aria-label": t.amount })),
      L.el("td", {}, L.el("button", { type: "button", class: "secondary", onclick: (ev) => ev.target.closest("tr").remove() }, t.remove)));
  }
  function tierTable(schedule) {
    L.$("#agreement-tiers").replaceChildren(L.el("table", { class: "stack" },
      L.el("thead", {}, L.el("tr", {}, [t.fields.categories, t.slot, t.kind, t.value, ""].map((h) => L.el("th", {}, h)))),
      L.el("tbody", {}, schedule.map((x) => tierRow(x)))));
  }
  function tiersOf(form) {
    return [...form.querySelectorAll("tr.tier")].map((row) => {
      const tier = { categories: [...row.querySelector("[name=categories]").selectedOptions].map((o) => o.value),
        slots: [...row.querySelectorAll("[name=slot]:checked")].map((c) => c.value) };
      const value = row.querySelector("[name=value]").value;
      if (row.querySelector("[name=kind]").value === "amount") tier.amount = fen(value); else tier.percent = Number(value);
      return Object.assign(tier, JSON.parse(row.dataset.extra || "{}"));
    });
  }
  function pointBoxes(chosen) {
    L.$("#agreement-points").replaceChildren(...mealPoints.map((p) => L.el("label", {},
      L.el("input", { type: "checkbox", name: "meal_point_ids", value: p.id, checked: chosen.includes(p.id) ? "checked" : null }), ` ${p.name}`)));
  }
  function editAgreement(a) {
    const form = L.$("#agreement-form");
    editing.agreement = a;
    openForm(form, `${t.edit_agreement}：${a.name}`, a);
    form.name.value = a.name; form.ends_on.value = a.ends_on; form.budget_cap.value = yuanValue(a.budget_cap);
    form.week_cap.value = a.week_cap ?? ""; form.month_cap.value = a.month_cap ?? ""; form.effective_from.value = tomorrow();
    L.$("#agreement-used").textContent = `${t.used_of_cap}：${L.yuan(a.budget_used)} / ${L.yuan(a.budget_cap)}`;
    tierTable(a.schedule);
    pointBoxes(a.meal_point_ids);
    history(L.$("#agreement-history"), `/api/v1/funding-agreements/${a.id}`).catch(() => {});
  }
  async function newAgreement() {
    await Promise.all([loadPoints(), loadCategories()]);
    const form = L.$("#agreement-form");
    editing.agreement = null;
    form.reset();
    openForm(form, t.new_agreement, null);
    form.starts_on.value = L.today();
    tierTable([{ categories: ["*"], slots: ["lunch"], amount: 200 }]);
    pointBoxes([]);
    L.$("#agreement-history").replaceChildren();
  }
  L.$("#tier-add").addEventListener("click", () => L.$("#agreement-tiers tbody").append(tierRow({ categories: [], slots: ["lunch"], amount: 0 })));
  L.$("#agreement-new").addEventListener("click", () => newAgreement().catch((err) => L.say(note, L.problemText(err), "bad")));
  L.$("#agreement-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const a = editing.agreement;
    const schedule = tiersOf(form);
    const weekCap = form.week_cap.value ? Number(form.week_cap.value) : null;
    const monthCap = form.month_cap.value ? Number(form.month_cap.value) : null;
    const body = {
      name: form.name.value, ends_on: form.ends_on.value, budget_cap: fen(form.budget_cap.value),
      meal_point_ids: [...form.querySelectorAll("[name=meal_point_ids]:checked")].map((c) => Number(c.value)),
    };
    const done = async () => { const list = await agreements(); const again = list.find((x) => x.id === (a && a.id)); if (again) editAgreement(again); else closeForm(form, L.$("#agreement-history")); };
    if (!a) {
      return save(form, "/api/v1/funding-agreements", "POST", {
        ...body, schedule, week_cap: weekCap, month_cap: monthCap, funder_kind: form.funder_kind.value, stack_order: Number(form.stack_order.value), starts_on: form.starts_on.value,
      }, done);
    }
    const ruled = JSON.stringify(schedule) !== JSON.stringify(a.schedule) || weekCap !== a.week_cap || monthCap !== (a.month_cap ?? null);
    return save(form, `/api/v1/funding-agreements/${a.id}`, "PATCH", {
      ...body, reason: form.reason.value,
      ...(ruled ? { schedule, week_cap: weekCap, month_cap: monthCap, effective_from: form.effective_from.value || null } : {}),
    }, done);
  });

  // --- diners: found by name, made and edited (category with its evidence, address, pause) -------
  async function diners() {
    const list = await loadPoints();
    await loadCategories();
    for (const select of [L.$("#diner-point"), L.$("#diner-home")]) {
      if (!select.options.length) for (const p of list) select.append(L.el("option", { value: p.id }, p.name));
    }
  }
  const dinersTicket = L.latest();
  async function findDiners() {
    const current = dinersTicket();
    const f = new FormData(L.$("#diner-form"));
    const q = String(f.get("q")).trim();
    const by = /^[0-9Xx]{4}$/.test(q) ? `last4=${encodeURIComponent(q)}` : `q=${encodeURIComponent(q)}`;
    const page = await L.api(FACE, `/api/v1/diners?meal_point_id=${f.get("meal_point_id")}&${by}`);
    if (!current()) return;
    const today = L.today();
    L.$("#diners").replaceChildren(page.items.length ? table(["", "", "", "", ""], page.items.map((d) => {
      const paused = d.paused_from && d.paused_from <= today && (!d.paused_until || today < d.paused_until);
      return [
        L.el("span", {}, L.el("strong", {}, d.name), " ", [d.community, d.phone, d.id_number_last4 && `…${d.id_number_last4}`].filter(Boolean).join(" · "),
          d.categories.length ? L.el("span", { class: "muted" }, L.el("br"), d.categories.map(categoryName).join("、")) : null),
        [d.dietary_notes, d.allergies].filter(Boolean).join(" · "),
        paused ? t.paused : "",
        L.el("button", { type: "button", class: "secondary", "data-edit-diner": d.id, onclick: () => editDiner(d) }, t.edit),
        L.el("span", { class: "actions" },
          L.el("button", { type: "button", class: "secondary", onclick: () => pause(d, !paused) }, paused ? t.resume : t.pause),
          L.el("button", { type: "button", class: "secondary", onclick: () => reissue(d) }, t.reissue),
          L.el("button", { type: "button", class: "secondary", onclick: () => card(d) }, t.card)),
      ];
    })) : L.el("p", { class: "muted" }, t.none));
    return page.items;
  }
  // the choices of the home point's county (a retired one only if the diner has it); age bands are
  // not chosen: they follow the ID number's birth date on the day of each meal
  const bandText = (c) => (c.max_age == null ? `${c.min_age}${t.years_over}` : `${c.min_age}–${c.max_age}${t.years}`);
  async function categoryBoxes(chosen) {
    const point = L.$("#diner-home").value;
    const items = point ? await L.all(FACE, `/api/v1/meal-categories?meal_point_id=${point}`) : [];
    L.$("#diner-categories").replaceChildren(...items.filter((c) => !c.automatic && (!c.retired || chosen.includes(c.code))).map((c) => L.el("label", { class: "choice" },
      L.el("input", { type: "checkbox", name: "categories", value: c.code, checked: chosen.includes(c.code) ? "checked" : null }), ` ${c.name}`)));
    const bands = items.filter((c) => c.automatic && !c.retired).map(bandText);
    L.$("#diner-bands").textContent = bands.length ? `${t.age_bands}：${bands.join("、")}` : "";
  }
  L.$("#diner-home").addEventListener("change", () => {
    const kept = [...L.$("#diner-categories").querySelectorAll("input:checked")].map((i) => i.value);
    categoryBoxes(kept).catch((err) => L.say(note, L.problemText(err), "bad"));
  });
  function editDiner(d) {
    const form = L.$("#diner-edit");
    editing.diner = d;
    form.reset();
    openForm(form, `${t.edit_diner}：${d.name}`, d);
    for (const k of ["name", "community", "address", "dietary_notes", "allergies", "paused_from", "paused_until", "category_evidence"]) form[k].value = d[k] || "";
    form.phone.value = "";
    form.phone.placeholder = d.phone || "";  // shown masked: a new number replaces it
    form.home_point_id.value = d.home_point_id;
    form.delivery.checked = d.delivery;
    form.residence.value = d.residence || "";
    categoryBoxes(d.categories).catch((err) => L.say(note, L.problemText(err), "bad"));
    history(L.$("#diner-history"), `/api/v1/diners/${d.id}`).catch(() => {});
  }
  function newDiner() {
    const form = L.$("#diner-edit");
    editing.diner = null;
    form.reset();
    form.phone.placeholder = "";
    form.home_point_id.value = L.$("#diner-point").value;
    openForm(form, t.new_diner, null);
    categoryBoxes([]).catch((err) => L.say(note, L.problemText(err), "bad"));
    L.$("#diner-history").replaceChildren();
  }
  L.$("#diner-new").addEventListener("click", () => diners().then(newDiner).catch((err) => L.say(note, L.problemText(err), "bad")));
  L.$("#diner-edit").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const d = editing.diner;
    const f = new FormData(form);
    const text = (k) => String(f.get(k) || "").trim();
    const body = {
      name: text("name"), community: text("community"), home_point_id: Number(f.get("home_point_id")), delivery: form.delivery.checked,
      address: text("address") || null, categories: f.getAll("categories"), category_evidence: text("category_evidence") || null,
      dietary_notes: text("dietary_notes"), allergies: text("allergies"), residence: f.get("residence") || null,
    };
    if (!d) {
      return save(form, "/api/v1/diners", "POST", {
        ...body, id_number: text("id_number"), phone: text("phone") || null, guardian_name: text("guardian_name") || null, consent: form.consent.checked,
      }, async () => { closeForm(form, L.$("#diner-history")); });
    }
    const changed = Object.fromEntries(Object.entries(body).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(k === "categories" ? [...d[k]].sort() : d[k] ?? null)));
    if (changed.categories) changed.categories = body.categories;
    if (text("phone")) changed.phone = text("phone");
    for (const k of ["paused_from", "paused_until"]) if ((f.get(k) || null) !== d[k]) changed[k] = f.get(k) || null;
    return save(form, `/api/v1/diners/${d.id}`, "PATCH", { ...changed, reason: form.reason.value }, async () => {
      const found = await findDiners().catch(() => []);
      const again = found.find((x) => x.id === d.id);
      if (again) editDiner(again); else closeForm(form, L.$("#diner-history"));
    });
  });
  async function pause(d, on) {
    try {
      await L.api(FACE, `/api/v1/diners/${d.id}/pause`, { method: "POST", body: on ? { paused_from: L.today() } : { paused_from: null, paused_until: null } });
      L.say(note, t.saved);
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
    findDiners();
  }
  async function reissue(d) {
    try {
      await L.api(FACE, `/api/v1/diners/${d.id}/reissue-card`, { method: "POST" });
      L.say(note, t.reissued);
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
  }
  async function card(d) {
    window.open(await L.blobUrl(FACE, `/api/v1/diners/${d.id}/card.png`), "_blank");
  }
  L.$("#diner-form").addEventListener("submit", (ev) => { ev.preventDefault(); findDiners().catch((err) => L.say(note, L.problemText(err), "bad")); });
  for (const [form, box] of [["#point-form", "#point-history"], ["#agreement-form", "#agreement-history"], ["#diner-edit", "#diner-history"]]) {
    L.$(`${form} [data-cancel]`).addEventListener("click", () => closeForm(L.$(form), L.$(box)));
  }

  return { points, agreements, diners };
};
