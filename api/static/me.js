// The volunteer's phone (我的): register, log in with a code, my card, notices (通知) and their
// settings, activities to join and my
// sign-ups, points and service time, history, teams (备案), the points shop, commendations and
// certificates (a service record over a period), my service record (hours per year, downloads),
// and today's delivery run with the door scan.
"use strict";
(() => {
  const FACE = "me";
  const t = L.t;
  const note = L.$("#note");
  let stopCamera = null; // stops the door camera while it is on
  let registered = null; // the volunteer's registration date (YYYY-MM-DD): a service record's default start

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
      registered = localDay(me.volunteer.created_at);
    } catch (err) {
      if (err instanceof L.ApiError) return start();
      L.say(note, L.problemText(err), "bad");
      return;
    }
    L.show(L.$("#guest"), false);
    L.show(L.$("#home"));
    open("card");
    unread().catch(() => {});
    // the 送餐上门 tab only for a volunteer who took a run today
    claimedRuns().then((runs) => L.show(L.$("[data-tab=delivery]"), runs.length > 0)).catch(() => {});
  }

  // --- tabs: each panel loads when opened ----------------------------------------------------------
  const year = window.MeYear(FACE, note);  // 我的一年 (me_year.js)
  const loaders = { card, notices, activities, points, year: year.year, history, teams, shop, honours, delivery };
  function open(name) {
    L.say(note, "");
    year.stop();  // it refreshes only while it is shown
    if (stopCamera && name !== "delivery") { stopCamera(); stopCamera = null; }
    document.querySelectorAll("[data-tab]").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === name)));
    document.querySelectorAll("[data-panel]").forEach((p) => L.show(p, p.dataset.panel === name));
    loaders[name]().catch((err) => L.say(note, L.problemText(err), "bad"));
  }
  document.querySelectorAll("[data-tab]").forEach((b) => b.addEventListener("click", () => open(b.dataset.tab)));

  async function card() {
    const img = L.$("#card-image");
    if (!img.src) img.src = await L.blobUrl(FACE, "/api/v1/me/card.svg");
  }

  // --- notices: the inbox (newest first, unread marked), quiet hours and SMS per kind --------------
  const badge = L.$("#unread-badge");
  function showUnread(n) {
    badge.textContent = String(n);
    L.show(badge, n > 0);
    L.$("#unread-line").textContent = `${n} ${t.unread}`;
    L.$("#read-all").disabled = n === 0;
  }
  const unread = async () => showUnread((await L.api(FACE, "/api/v1/me/notices?limit=1")).unread);
  async function notices() {
    await inbox();
    await settings();
  }
  async function inbox() {
    const page = await L.api(FACE, "/api/v1/me/notices?limit=50");
    showUnread(page.unread);
    L.$("#notices").replaceChildren(...(page.items.length ? page.items.map((n) => L.el("li",
      { class: n.read_at ? "card" : "card unread", "data-notice": n.id },
      L.el("p", { class: "title" }, t.notice_kinds[n.kind] || n.kind),
      L.el("p", {}, t.lang === "en" ? n.text_en : n.text),
      L.el("p", { class: "state" }, `${L.dt(n.created_at)} · ${t.sms_states[n.sms_state] || n.sms_state}`),
      n.read_at ? null : L.el("button", { type: "button", class: "secondary", onclick: () => read(n.id) }, t.mark_read),
    )) : [L.el("li", { class: "muted" }, t.none)]));
  }
  async function settings() {  // only when the tab opens: marking read never overwrites what is being typed
    const s = await L.api(FACE, "/api/v1/me/notice-settings");
    settingsForm.quiet_start.value = s.quiet_start;
    settingsForm.quiet_end.value = s.quiet_end;
    L.$("#sms-kinds").replaceChildren(...s.kinds.map((k) => L.el("label", {},
      L.el("input", { type: "checkbox", name: "sms", value: k, checked: !s.sms_off.includes(k) }),
      ` ${t.notice_kinds[k] || k}`)));
  }
  async function read(id) {
    try { await L.api(FACE, `/api/v1/me/notices/${id}/read`, { method: "POST" }); } catch (err) { L.say(note, L.problemText(err), "bad"); }
    inbox().catch((err) => L.say(note, L.problemText(err), "bad"));
  }
  L.$("#read-all").addEventListener("click", async () => {
    try { await L.api(FACE, "/api/v1/me/notices/read-all", { method: "POST" }); } catch (err) { L.say(note, L.problemText(err), "bad"); }
    inbox().catch((err) => L.say(note, L.problemText(err), "bad"));
  });
  const settingsForm = L.$("#notice-settings");
  settingsForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const boxes = [...settingsForm.querySelectorAll("input[name=sms]")];
    const body = { quiet_start: settingsForm.quiet_start.value, quiet_end: settingsForm.quiet_end.value,
      sms_off: boxes.filter((b) => !b.checked).map((b) => b.value) };
    try {
      await L.api(FACE, "/api/v1/me/notice-settings", { method: "PUT", body });
      L.say(note, t.settings_saved);
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
  });

  // --- activities: what I signed up for, and what I may join, by time -----------------------------
  const localDay = (iso) => new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date(iso));
  const clock = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit" });
  const span = (a) => `${L.dt(a.starts_at)}–${localDay(a.starts_at) === localDay(a.ends_at) ? clock.format(new Date(a.ends_at)) : L.dt(a.ends_at)}`;

  async function activities() {
    const mine = (await L.api(FACE, "/api/v1/me/activities?signed_up=true&limit=50")).items;
    const open = (await L.api(FACE, "/api/v1/me/activities?limit=50")).items.filter((a) => !a.signup);
    L.$("#my-activities").replaceChildren(...(mine.length ? mine.map(activityCard) : [L.el("p", { class: "muted" }, t.none)]));
    L.$("#open-activities").replaceChildren(...(open.length ? open.map(activityCard) : [L.el("p", { class: "muted" }, t.none)]));
  }
  // One activity: when, where, what, whose, places left, and the one thing I can do (or why not).
  function activityCard(a) {
    let act;
    if (a.cancelled_at) {  // the hub cancelled it: shown with the reason, nothing to do
      act = [L.el("p", { class: "notice warn", "data-cancelled": a.id }, `${t.activity_cancelled}：${a.cancel_reason}`)];
    } else if (a.signup) {
      act = [L.el("p", { class: "state" }, t.signup[a.signup] || a.signup),
        L.el("button", { type: "button", class: "secondary", "data-cancel": a.id, onclick: () => signUp(a.id, false) }, t.cancel_signup)];
    } else if (a.may_sign_up) {
      act = [L.el("button", { type: "button", "data-join": a.id, onclick: () => signUp(a.id, true) }, a.spots_left > 0 ? t.sign_up : t.join_waitlist)];
    } else {
      act = [L.el("p", { class: "state" }, t.why_not[a.why_not] || a.why_not)];
    }
    return L.el("div", { class: "card", "data-activity": a.id },
      L.el("p", { class: "title" }, a.title),
      L.el("p", {}, span(a)),
      L.el("p", {}, `${a.station_name} · ${t.kinds[a.kind] || t.kinds.other}`),
      L.el("p", { class: "muted" }, a.org_name),
      ...(a.cancelled_at ? [] : [L.el("p", {}, a.spots_left > 0 ? `${t.spots_left} ${a.spots_left} / ${a.capacity}` : t.full)]),
      ...act);
  }
  async function signUp(id, join) {
    try {
      if (join) {
        const s = await L.api(FACE, `/api/v1/activities/${id}/signups`, { method: "POST" });
        L.say(note, s.status === "confirmed" ? t.signed_up : t.waitlisted);
      } else {
        await L.api(FACE, `/api/v1/activities/${id}/signups/cancel`, { method: "POST" });
        L.say(note, t.signup_cancelled);
      }
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
    activities().catch((err) => L.say(note, L.problemText(err), "bad"));
  }

  async function points() {
    const p = await L.api(FACE, "/api/v1/me/points");
    const rows = [
      [t.points, `${p.balance}（${t.available} ${p.available}）`],
      [t.service_hours, L.hours(p.service_minutes)],
      [t.star, p.star_level ? L.el("span", { role: "img", "aria-label": String(p.star_level), id: "stars" },
        Array.from({ length: p.star_level }, () => L.el("span", { class: "icon star" }))) : "—"],
      [t.next_level, p.next_level ? L.hours(p.next_level.minutes_to_go) : t.top_level],
    ];
    L.$("#my-points").replaceChildren(
      L.el("p", { class: "big", id: "balance" }, `${p.balance} ${t.points}`),
      L.table(["", ""], rows),
    );
  }

  // Each transfer in words; a shop order is one line that goes from reserved to spent (or back).
  async function history() {
    const page = await L.api(FACE, "/api/v1/me/points/transfers?limit=50");
    L.$("#my-history").replaceChildren(page.items.length ? L.table(["", ""], page.items.map((x) => {
      const back = x.state === "cancelled" || x.state === "expired";
      return [
        L.el("span", {}, t.transfer_reasons[x.reason] || t.transfer_reasons.other,
          x.state ? L.el("span", { class: "state" }, t.states[x.state]) : null,
          L.el("span", { class: "state" }, L.dt(x.created_at))),
        L.el("span", { class: back ? "nowrap struck" : "nowrap" },
          `${x.amount > 0 ? "+" : ""}${x.amount} ${x.ledger === "points" ? t.points : t.minutes}`),
      ];
    })) : L.el("p", { class: "muted" }, t.none));
  }

  async function teams() {
    const mine = (await L.api(FACE, "/api/v1/me/filings")).items;
    L.$("#my-filings").replaceChildren(mine.length
      ? L.table(["", ""], mine.map((f) => [f.team_name, status(f.status)]))
      : L.el("p", { class: "muted" }, t.none));
    const filed = new Map(mine.filter((f) => f.status !== "rejected").map((f) => [f.team_id, f.status]));
    const invited = new Set((await L.api(FACE, "/api/v1/me/invitations")).items.map((i) => i.team_id));
    const all = (await L.api(FACE, "/api/v1/teams?limit=200")).items;
    // a button only where applying can succeed: an invitation-only team takes invited phones only
    L.$("#teams").replaceChildren(L.table(["", ""], all.map((team) => [
      team.name,
      filed.has(team.id) ? status(filed.get(team.id))
        : team.join_mode === "invitation" && !invited.has(team.id) ? L.el("span", { class: "muted" }, t.invitation_only)
          : L.el("button", { type: "button", "data-team": team.id, onclick: () => apply(team.id) },
            invited.has(team.id) ? t.accept_invitation : t.apply),
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
      L.el("button", { type: "button", class: "nowrap", disabled: i.stock < 1, onclick: () => order(i.id) }, t.exchange),
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
    if (!recordForm.period_end.value) {
      recordForm.period_end.value = L.today();
      recordForm.period_start.value = registered || L.today();
    }
    recordForm.period_start.max = recordForm.period_end.max = L.today();
    // my service record (志愿服务记录): the total and hours per year; the rows are in the download
    const r = await L.api(FACE, "/api/v1/me/record?limit=1");
    L.$("#record-total").textContent = `${r.totals.hours} ${t.hours}`;
    L.$("#my-record").replaceChildren(r.by_year.length
      ? L.table([t.year, t.hours], r.by_year.map((y) => [String(y.year), y.hours]))
      : L.el("p", { class: "muted" }, t.none));
    // 申请证明: the organizations that recorded my service
    const orgs = certForm.org_id;
    if (!orgs.options.length || orgs.dataset.count !== String(r.by_org.length)) {
      orgs.replaceChildren(...r.by_org.map((o) => L.el("option", { value: String(o.org_id) }, o.organization)));
      orgs.dataset.count = String(r.by_org.length);
    }
    if (!certForm.period_end.value) {
      certForm.period_end.value = L.today();
      certForm.period_start.value = registered || L.today();
    }
    certForm.period_start.max = certForm.period_end.max = L.today();
    const mine = (await L.api(FACE, "/api/v1/me/commendations")).items;
    L.$("#commendations").replaceChildren(mine.length ? L.table(["", "", ""], mine.map((c) => [
      c.round_title, c.reason, c.certificate ? L.el("a", { href: `/verify/${c.certificate}` }, t.verify) : "",
    ])) : L.el("p", { class: "muted" }, t.none));
    const certs = (await L.api(FACE, "/api/v1/me/certificates")).items;
    L.$("#certificates").replaceChildren(certs.length ? L.table(["", "", ""], certs.map((c) => [
      L.el("span", {}, c.title, L.el("span", { class: "state" }, `${L.hours(c.minutes)} ${t.hours}`)),
      L.el("a", { href: `/verify/${c.code}`, class: "nowrap" }, t.verify),
      L.el("button", { type: "button", class: "secondary nowrap", onclick: () => download(c.code) }, t.download),
    ])) : L.el("p", { class: "muted" }, t.none));
  }
  // A service record (志愿服务记录证明) over a period: from registration to today unless changed.
  const recordForm = L.$("#record-form");
  recordForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(recordForm);
    try {
      const body = { period_start: f.get("period_start"), period_end: f.get("period_end") };
      await L.api(FACE, "/api/v1/me/certificates", { method: "POST", body });
      await honours();
      L.say(note, t.certificate_issued);
    } catch (err) { L.say(note, L.problemText(err), "bad"); }
  });
  // 志愿服务记录证明 from the organization that recorded the service: asked for, then downloaded.
  // Without an ID number stored the answer is identity_needed: the identity form shows, and saving
  // the number asks again.
  const certForm = L.$("#record-cert-form");
  const idForm = L.$("#identity-form");
  async function askCertificate() {
    const f = new FormData(certForm);
    const body = { org_id: Number(f.get("org_id")), period_start: f.get("period_start"), period_end: f.get("period_end") };
    try {
      const got = await L.api(FACE, "/api/v1/me/record/certificates", { method: "POST", body });
      L.show(idForm, false);
      const answer = [L.el("p", {},
        L.el("span", {}, `${got.issuer} · ${L.hours(got.total_minutes)} ${t.hours} · ${got.id} `),
        L.el("a", { href: got.verify_url, class: "nowrap" }, t.verify), " ",
        L.el("button", { type: "button", class: "secondary nowrap", onclick: () => save(got.pdf_url, `${got.id}.pdf`) }, t.download))];
      if (got.left_out.length) answer.push(L.el("p", { class: "muted" }, `${t.record_certificate_left_out}: ${got.left_out.length}`));
      L.$("#record-cert-answer").replaceChildren(...answer);
      L.say(note, t.record_certificate_ready);
      await save(got.pdf_url, `${got.id}.pdf`);
    } catch (err) {
      if (err instanceof L.ApiError && err.problem.code === "identity_needed") {
        L.show(idForm);
        idForm.id_number.focus();
      }
      L.say(note, L.problemText(err), "bad");
    }
  }
  certForm.addEventListener("submit", (ev) => { ev.preventDefault(); askCertificate(); });
  idForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(idForm);
    try {
      await L.api(FACE, "/api/v1/me/identity", { method: "PUT", body: { id_type: f.get("id_type"), id_number: f.get("id_number") } });
      idForm.reset();
      L.show(idForm, false);
    } catch (err) { L.say(note, L.problemText(err), "bad"); return; }
    await askCertificate();
  });
  const download = (code) => save(`/api/v1/me/certificates/${code}/pdf`, `${code}.pdf`);
  async function save(path, name) {
    const a = L.el("a", { href: await L.blobUrl(FACE, path), download: name });
    document.body.append(a); a.click(); a.remove();
  }
  for (const ext of ["csv", "xlsx"]) {
    L.$(`#record-${ext}`).addEventListener("click", () => save(`/api/v1/me/record.${ext}`, `record.${ext}`)
      .catch((err) => L.say(note, L.problemText(err), "bad")));
  }

  // --- delivery: my run of today, its doors in order, what to collect, the door scan ---------------
  // Runs come with their stops only for the volunteer who took them.
  const claimedRuns = async () => (await L.api(FACE, "/api/v1/delivery-runs")).items.filter((r) => r.stops);
  async function delivery() {
    const runs = await claimedRuns();
    L.$("#my-runs").replaceChildren(...(runs.length ? runs.map((r) => L.el("section", { class: "run", "data-run": r.id },
      L.el("h3", {}, `${r.meal_point_name} · ${t.slots[r.slot] || r.slot} · ${r.community}`),
      L.el("p", {}, `${t.delivered_of} ${r.delivered} / ${r.stops_total}`),
      L.el("ol", { class: "stops" }, r.stops.map((s) => L.el("li", { class: "card", "data-diner": s.diner_id },
        L.el("p", { class: "title" }, s.name),
        L.el("p", {}, s.address || ""),
        s.dietary_notes || s.allergies ? L.el("p", { class: "muted" }, [s.dietary_notes, s.allergies].filter(Boolean).join(" · ")) : null,
        L.el("p", { class: "collect" }, `${t.to_collect} `, L.el("strong", {}, s.to_collect === null ? "—" : L.yuan(s.to_collect))),
        s.meal_id ? L.el("p", { class: "state" }, t.delivered) : null))),
    )) : [L.el("p", { class: "muted" }, t.no_run)]));
  }
  // The diner's card at the door, typed or from the camera: a scan as this volunteer's device.
  const doorForm = L.$("#door-form");
  const doorAnswer = L.$("#door-answer");
  async function door(payload) {
    try {
      const a = await L.api(FACE, "/api/v1/scans", { method: "POST", body: { payload, scan_id: L.uuid() } });
      const text = t.reasons[a.reason || a.outcome] || a.message;
      const who = a.diner ? `${a.diner.name}：` : "";
      const paid = a.meal ? ` · ${t.to_collect} ${L.yuan(a.meal.paid)}` : "";
      L.say(doorAnswer, `${who}${text}${paid}`, a.outcome === "rejected" ? "bad" : a.outcome === "duplicate" ? "warn" : "ok");
      doorForm.payload.value = "";
    } catch (err) { L.say(doorAnswer, L.problemText(err), "bad"); }
    delivery().catch((err) => L.say(note, L.problemText(err), "bad"));
  }
  doorForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    door(doorForm.payload.value.trim());
  });
  L.$("#door-camera").addEventListener("click", async () => {
    if (stopCamera) { stopCamera(); stopCamera = null; return; }
    stopCamera = await L.camera(FACE, L.$("#camera"), door);
    if (!stopCamera) L.say(doorAnswer, t.no_camera, "bad");
  });

  // --- guest forms ---------------------------------------------------------------------------------
  // Registering proves the phone first: a code is sent to it, and the registration carries it. A
  // phone registered already is told only now (the code proved it), and the same code logs it in.
  L.$("#register-code").addEventListener("click", () => {
    const form = L.$("#register-form");
    if (form.phone.reportValidity()) L.askCode(FACE, note, form.phone.value);
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
  L.codeLogin(FACE, note, start);
  L.logout(FACE, start);
  start();
})();
