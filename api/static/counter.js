// The counter tablet (取餐台): a scan box that always has focus (a handheld scanner types the code
// and Enter), a full-screen answer with a sound, today's figures, the station code for volunteers,
// and an offline queue that syncs through the batch endpoint: while offline a diner's card is quoted
// from the rules cached online, marked 暂估 (counter_offline.js), and after the upload the server's
// amounts are listed beside the quotes. The day's cash sheet and the cash counted: counter_cash.js. After a refusal: a meal at full
// price, or a void of today's meal (with a reason). The 积分兑换 button turns the scan box to the
// points shop: a volunteer card scanned then lists the card's orders waiting (no check-in), each
// handed over with one tap, until 结束兑换.
"use strict";
(() => {
  const FACE = "counter";
  const QUEUE = "linli_counter_queue";
  const STATION = "linli_counter_station";
  const t = L.t;
  const scanBox = L.$("#scan");
  let station = Number(localStorage.getItem(STATION)) || null;
  let mealPoint = null;
  let offline = false;
  let answerTimer = null;
  let camera = null; // stops the camera while it is on
  let shopMode = false;

  // --- sounds: one for each kind of answer, so the coordinator need not look ---------------------
  let audio = null;
  function beep(kind) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const tones = { ok: [660, 880], again: [520, 520], no: [220, 180, 140], queued: [440] }[kind] || [440];
      tones.forEach((f, i) => {
        const o = audio.createOscillator(), g = audio.createGain();
        o.type = kind === "no" ? "square" : "sine";
        o.frequency.value = f;
        g.gain.value = 0.2;
        o.connect(g).connect(audio.destination);
        o.start(audio.currentTime + i * 0.15);
        o.stop(audio.currentTime + i * 0.15 + 0.12);
      });
    } catch (e) { /* no sound on this device */ }
  }

  // --- the answer, full screen for a moment ------------------------------------------------------
  const GOOD = new Set(["checked_in", "checked_out", "meal_served", "delivered"]);
  function kindOf(a) {
    if (GOOD.has(a.outcome)) return "ok";
    if (a.outcome === "duplicate" || a.reason === "already_served") return "again";
    return "no";
  }

  function showAnswer(kind, lines) {
    const box = L.$("#answer");
    lines = lines.filter(Boolean);
    box.replaceChildren(...lines);
    box.className = kind;
    box.dataset.kind = kind;
    beep(kind);
    clearTimeout(answerTimer);
    // an answer offering a choice stays long enough to choose; a touch still dismisses it
    const choice = lines.some((l) => l.classList.contains("actions"));
    answerTimer = setTimeout(hideAnswer, choice ? 20000 : kind === "ok" ? 2500 : 4000);
  }
  function hideAnswer() {
    L.show(L.$("#answer"), false);
  }

  function answerLines(a) {
    const who = (a.diner && a.diner.name) || (a.volunteer && a.volunteer.name) || "";
    const lines = [
      who && L.el("div", { class: "who" }, who),
      L.el("div", { class: "message" }, t.reasons[a.reason || a.outcome] || L.inLang(a.message)),
    ];
    const meal = a.meal;
    if (meal && a.outcome !== "rejected") {
      lines.push(L.el("div", { class: "pay" }, `${t.pay} ${L.yuan(meal.paid)}`));
      const split = meal.split.map((s) => `${s.funder} ${L.yuan(s.amount)}`).join(" · ");
      lines.push(L.el("div", { class: "split" }, `${t.price} ${L.yuan(meal.price)} · ${t.subsidy} ${L.yuan(meal.subsidy)}${split ? "（" + split + "）" : ""}`));
    } else if (meal && a.reason === "already_served") {  // where and when: "泉心食堂 12:05 已领取"
      lines.push(L.el("div", { class: "where" }, [meal.meal_point, hhmm(meal.served_at), t.taken].filter(Boolean).join(" ")));
    }
    if (a.outcome === "rejected" && a.price && FULL_PRICE.has(a.reason)) {
      lines.push(L.el("div", { class: "pay" }, `${t.collect_full} ${L.yuan(a.price)}`));
    } else if (a.outcome === "rejected" && a.price) {
      lines.push(L.el("div", { class: "split" }, `${t.price} ${L.yuan(a.price)}`));
    }
    if (a.minutes) lines.push(L.el("div", {}, `${a.minutes} ${t.minutes}`));
    if (a.diner && (a.diner.dietary_notes || a.diner.allergies)) {
      const notes = [a.diner.dietary_notes, a.diner.allergies && `${t.allergies}：${a.diner.allergies}`];
      lines.push(L.el("div", { class: "notes" }, notes.filter(Boolean).join(" · ")));
    }
    lines.push(choices(a));
    return lines;
  }

  const hhmm = (iso) => new Date(iso).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false });

  // --- after a refusal: the coordinator's choice -------------------------------------------------
  // refusals a meal at full price answers (another meal point's diner is served at home instead)
  const FULL_PRICE = new Set(["already_served", "not_eligible", "weekly_limit_reached", "monthly_limit_reached", "budget_exhausted"]);

  function button(text, cls, act) {
    return L.el("button", {
      type: "button",
      class: cls,
      onclick: (ev) => { ev.stopPropagation(); act(ev.currentTarget); },
    }, text);
  }

  function choices(a) {
    const buttons = [];
    if (a.outcome === "rejected" && a.diner && a.price && mealPoint && FULL_PRICE.has(a.reason)) {
      buttons.push(button(`${t.full_price} ${L.yuan(a.price)}`, "secondary full-price", (b) => fullPrice(a.diner, b)));
    }
    const m = a.meal;
    if (a.reason === "already_served" && m && m.meal_point_id === mealPoint && m.service_day === L.today()) {
      buttons.push(button(t.void_first, "secondary void", () => askVoid(m, a.diner.name)));
    }
    return buttons.length ? L.el("div", { class: "actions" }, buttons) : null;
  }

  async function fullPrice(diner, b) {
    b.disabled = true;  // one tap, one meal
    try {
      const m = await L.api(FACE, "/api/v1/meals", { method: "POST", body: { diner_id: diner.id, meal_point_id: mealPoint } });
      showAnswer("ok", [
        L.el("div", { class: "who" }, diner.name),
        L.el("div", { class: "message" }, t.served_full),
        L.el("div", { class: "pay" }, `${t.pay} ${L.yuan(m.paid)}`),
      ]);
      remember(`${diner.name} ${t.served_full} ${L.yuan(m.paid)}`, { ...m, name: diner.name });
      refreshToday();
    } catch (err) {
      if (err instanceof L.ApiError && err.status === 401) return start();
      showAnswer("no", [L.el("div", { class: "message" }, L.problemText(err))]);
    }
  }

  // --- voiding a meal of today, with a reason ---------------------------------------------------
  let voiding = null;
  function askVoid(meal, name) {
    hideAnswer();
    voiding = meal;
    const slot = t.slot_names[meal.slot] || meal.slot || "";
    const when = meal.served_at ? hhmm(meal.served_at) : "";
    L.$("#void-what").textContent = [name, slot, when, L.yuan(meal.paid)].filter(Boolean).join(" ");
    L.$("#void-form").reset();
    L.say(L.$("#void-error"), "");
    L.show(L.$("#void-screen"));
    L.$("#void-form [name=reason]").focus();
  }
  function hideVoid() {
    voiding = null;
    L.show(L.$("#void-screen"), false);
    scanBox.focus();
  }
  async function submitVoid(ev) {
    ev.preventDefault();
    const meal = voiding;
    const reason = new FormData(ev.target).get("reason").trim();
    if (!meal || !reason) return;
    try {
      await L.api(FACE, `/api/v1/meals/${meal.id}/void`, { method: "POST", body: { reason } });
      hideVoid();
      for (const li of document.querySelectorAll(`#recent li[data-meal="${meal.id}"]`)) {
        li.querySelector("button")?.remove();
        li.append(` · ${t.voided}`);
      }
      showAnswer("ok", [L.el("div", { class: "message" }, t.voided)]);
      remember(`${t.voided}: ${L.$("#void-what").textContent}`);
      refreshToday();
    } catch (err) {
      if (err instanceof L.ApiError && err.status === 401) return start();
      L.say(L.$("#void-error"), L.problemText(err), "bad");
    }
  }

  // a line in 最近扫码; a meal recorded here can be voided from it
  function remember(text, meal) {
    const list = L.$("#recent");
    const li = L.el("li", meal ? { "data-meal": meal.id } : {}, `${new Date().toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai" })} ${text}`);
    if (meal) li.append(button(t.void, "secondary", () => askVoid(meal, meal.name)));
    list.prepend(li);
    while (list.children.length > 8) list.lastChild.remove();
  }
  const mealOf = (a) => (a.outcome === "meal_served" && a.meal && !a.held ? { ...a.meal, name: a.diner.name } : null);

  // --- the points shop: the card's orders waiting, each handed over with one tap -----------------
  function shop(on) {
    shopMode = on;
    L.show(L.$("#shop"), on);
    L.$("#shop-button").setAttribute("aria-pressed", String(on));
    L.$("#shop-note").textContent = t.shop_prompt;
    L.$("#shop-orders").replaceChildren();
    scanBox.focus();
  }
  async function shopScan(payload) {
    const note = L.$("#shop-note"), list = L.$("#shop-orders");
    list.replaceChildren();
    try {
      const r = await L.api(FACE, "/api/v1/shop/orders/waiting", { method: "POST", body: { payload } });
      note.textContent = `${r.volunteer_name}：${r.items.length ? t.shop_waiting : t.shop_none}`;
      list.replaceChildren(...r.items.map((o) => {
        const li = L.el("li", { "data-order": o.id }, L.el("span", {}, `${o.item_name} × ${o.quantity}（${o.points} ${t.points}）`));
        li.append(button(t.hand_over, "hand-over", (b) => handOver(o, payload, r.volunteer_name, li, b)));
        return li;
      }));
      beep(r.items.length ? "ok" : "again");
    } catch (err) {
      if (err instanceof L.ApiError && err.status === 401) return start();
      note.textContent = L.problemText(err);
      beep("no");
    }
  }
  async function handOver(order, payload, name, li, b) {
    b.disabled = true;
    try {
      const o = await L.api(FACE, `/api/v1/shop/orders/${order.id}/fulfil`, { method: "POST", body: { payload } });
      li.replaceChildren(L.el("span", {}, `${o.item_name} × ${o.quantity} · ${t.handed_over}`));
      li.dataset.status = o.status;
      beep("ok");
      remember(`${name} ${o.item_name} ${t.handed_over}`);
    } catch (err) {
      if (err instanceof L.ApiError && err.status === 401) return start();
      b.disabled = false;
      L.$("#shop-note").textContent = L.problemText(err);
      beep("no");
    }
  }

  // --- scanning ------------------------------------------------------------------------------------
  async function scan(payload) {
    payload = payload.trim();
    if (!payload) return;
    if (shopMode) return shopScan(payload);  // 兑换: the card's orders, never a check-in
    const item = { payload, station_id: station, scan_id: L.uuid(), scanned_at: new Date().toISOString() };
    if (offline) return queue(item);
    try {
      const a = await L.api(FACE, "/api/v1/scans", { method: "POST", body: item });
      showAnswer(kindOf(a), answerLines(a));
      remember(`${(a.diner && a.diner.name) || (a.volunteer && a.volunteer.name) || ""} ${t.reasons[a.reason || a.outcome] || L.inLang(a.message)}`, mealOf(a));
      refreshToday();
    } catch (err) {
      if (err instanceof L.ApiError) {
        if (err.status === 401) return start();
        showAnswer("no", [L.el("div", { class: "message" }, L.problemText(err))]);
      } else {
        goOffline();
        queue(item);
      }
    }
  }

  // --- offline: scans wait on the device, with their ids and times ---------------------------------
  const queued = () => JSON.parse(localStorage.getItem(QUEUE) || "[]");
  const keep = (q) => localStorage.setItem(QUEUE, JSON.stringify(q));

  function queue(item) {
    const q = queued();
    if (q.some((s) => s.payload === item.payload)) {  // the same card twice while offline
      showAnswer("again", [L.el("div", { class: "message" }, t.offline_twice)]);
      return;
    }
    // what to collect meanwhile, from the rules cached while online: provisional (暂估)
    const quotes = CounterOffline.quotes();
    const quote = CounterOffline.quote(station, item, q.map((s) => quotes[s.scan_id]).filter(Boolean));
    if (quote) CounterOffline.keepQuote(item.scan_id, quote);
    q.push(item);
    keep(q);
    const card = CounterOffline.dinerCard(item.payload);  // a volunteer's card has nothing to collect
    showAnswer("queued", [L.el("div", { class: "message" }, t.queued), ...(card ? quoteLines(quote) : [])]);
    remember(`${t.queued}${quote && quote.paid !== undefined ? ` · ${t.provisional} ${L.yuan(quote.paid)}` : ""}`);
    banner();
  }

  function quoteLines(q) {
    if (!q) return [L.el("div", { class: "split" }, t.no_quote)];
    if (q.paid === undefined) return [L.el("div", { class: "pay provisional" }, `${t.provisional}：${t.reasons[q.reason] || q.reason}`)];
    const lines = [];
    if (q.reason) {
      lines.push(L.el("div", { class: "split" }, `${t.provisional}：${t.reasons[q.reason] || q.reason}`));
      lines.push(L.el("div", { class: "pay provisional" }, `${t.provisional} ${t.collect_full} ${L.yuan(q.paid)}`));
    } else {
      lines.push(L.el("div", { class: "pay provisional" }, `${t.provisional} ${t.pay} ${L.yuan(q.paid)}`));
      const split = q.split.map((s) => `${s.funder} ${L.yuan(s.amount)}`).join(" · ");
      lines.push(L.el("div", { class: "split" }, `${t.price} ${L.yuan(q.price)} · ${t.subsidy} ${L.yuan(q.subsidy)}${split ? "（" + split + "）" : ""}`));
    }
    lines.push(L.el("div", { class: "split" }, q.known ? t.provisional_note : t.unknown_diner));
    return lines;
  }

  function banner() {
    const n = queued().length;
    const rules = CounterOffline.rulesFor(station);
    const note = rules ? `${t.rules_of} ${L.dt(rules.fetched_at)}` : t.no_rules;
    L.say(L.$("#offline"), offline || n ? `${t.offline} ${n} · ${note}` : "", "warn");
  }

  // the uploaded offline scans: the provisional amount beside the one the server decided
  function showSynced(items) {
    L.show(L.$("#synced-box"), items.length > 0);
    L.$("#synced").replaceChildren(...items.map((s) => {
      const what = s.paid !== null ? `${t.real} ${L.yuan(s.paid)}` : t.reasons[s.reason || s.outcome] || "";
      const diff = s.paid !== null && s.quoted !== null ? s.paid - s.quoted : null;
      return L.el("li", { "data-scan": s.scan_id, class: diff ? "differs" : "" },
        `${hhmm(s.scanned_at)} ${s.name} · ${t.provisional} ${s.quoted !== null ? L.yuan(s.quoted) : "—"} → ${what}`
        + (s.held ? ` · ${t.held}` : "")
        + (diff ? ` · ${t.difference} ${diff > 0 ? "+" : "−"}${L.yuan(Math.abs(diff))}` : diff === 0 ? ` · ${t.same}` : ""));
    }));
  }

  function goOffline() {
    offline = true;
    banner();
  }

  let syncing = false;  // one upload at a time: the online event and the timer may both start one
  async function sync() {
    const q = queued();
    if (!q.length) {
      if (navigator.onLine !== false) { offline = false; banner(); }
      return;
    }
    if (syncing) return;
    syncing = true;
    try {
      const r = await L.api(FACE, "/api/v1/scans/batch", { method: "POST", body: { scans: q } });
      const done = new Set(r.results.map((a) => a.scan_id));
      keep(queued().filter((s) => !done.has(s.scan_id)));
      offline = false;
      banner();
      for (const a of r.results) remember(`${(a.diner && a.diner.name) || (a.volunteer && a.volunteer.name) || ""} ${t.reasons[a.reason || a.outcome] || L.inLang(a.message)}`, mealOf(a));
      remember(`${t.synced}: ${r.results.length}`);
      showSynced(CounterOffline.settle(r.results, L.today()));
      refreshToday();
    } catch (err) {
      if (err instanceof L.ApiError && err.status === 401) start();
      // still offline: try again shortly
    } finally {
      syncing = false;
    }
  }

  // --- today at this station -------------------------------------------------------------------
  async function refreshToday() {
    if (!station) return;
    try {
      const today = await L.api(FACE, `/api/v1/stations/${station}/meals-today`);
      mealPoint = today.meal_point_id;
      CounterOffline.saveRules(await L.api(FACE, `/api/v1/meal-points/${mealPoint}/counter-rules`));
      CounterCash.refresh(mealPoint);
      L.$("#station-name").textContent = today.name;
      L.$("#meals-today").replaceChildren(L.table(
        ["", t.served_of_booked, t.price],
        today.slots.map((s) => [`${t.slot_names[s.slot] || s.slot} ${s.starts}–${s.ends}`, `${s.served} / ${s.booked}`, L.yuan(s.price)]),
      ));
      const day = today.day;
      const runs = (await L.api(FACE, `/api/v1/meal-points/${mealPoint}/delivery-runs?day=${day}`)).items;
      L.$("#deliveries-today").replaceChildren(runs.length ? L.table(
        ["", "", ""],
        runs.map((r) => [`${t.slot_names[r.slot] || r.slot} · ${r.community}`, r.volunteer ? r.volunteer.name : t.unclaimed, `${t.delivered} ${r.delivered} / ${r.stops_total}`]),
      ) : L.el("p", { class: "muted" }, t.none));
      await refreshCloses();
    } catch (err) { /* not a meal point's counter, or offline: keep what is shown */ }
    try {
      const roster = await L.all(FACE, `/api/v1/stations/${station}/roster`);
      L.$("#volunteers-today").replaceChildren(roster.length ? L.table(
        ["", t.signed_up, t.present],
        roster.map((e) => [
          `${e.activity.title} ${L.dt(e.activity.starts_at).slice(-5)}–${L.dt(e.activity.ends_at).slice(-5)}`,
          String(e.signups.filter((s) => s.status === "confirmed").length),
          e.attendances.filter((a) => a.state === "open").map((a) => a.volunteer_name).join("、") || "—",
        ]),
      ) : L.el("p", { class: "muted" }, t.none));
    } catch (err) { /* offline */ }
  }

  // --- the day's close: today's state, a close by hand, the past closes and their sheets --------
  async function refreshCloses() {
    const page = await L.api(FACE, `/api/v1/meal-points/${mealPoint}/day-closes?limit=7`);
    L.$("#close-status").textContent = page.today_closed ? t.closed_today : `${t.open_today} ${hhmm(page.closes_at)}`;
    L.show(L.$("#close-button"), !page.today_closed);
    // one line a day (it wraps on a phone): the day, meals, what was collected, the subsidy, print
    L.$("#close-list").replaceChildren(page.items.length ? L.el("ul", { class: "closes" }, page.items.map((c) =>
      L.el("li", {},
        L.el("span", {}, `${c.day.slice(5)} · ${t.meals} ${c.meals} · ${t.collected} ${L.yuan(c.paid_total)} · ${t.subsidy} ${L.yuan(c.subsidy_total)}`),
        L.el("button", { type: "button", class: "secondary", onclick: () => printSheet(c) }, t.print)),
    )) : L.el("p", { class: "muted" }, t.no_closes));
  }
  async function closeDay() {
    try {
      await L.api(FACE, `/api/v1/meal-points/${mealPoint}/day-closes`, { method: "POST", body: {} });
      L.say(L.$("#close-note"), t.just_closed, "ok");
      await refreshCloses();
    } catch (err) {
      L.say(L.$("#close-note"), L.problemText(err), "warn");
    }
  }
  async function printSheet(c) {
    const link = L.el("a", { href: await L.blobUrl(FACE, `/api/v1/day-closes/${c.id}/sheet.pdf`), download: `day-close-${c.day}.pdf` });
    document.body.append(link);
    link.click();
    link.remove();
  }

  // --- the station code, full screen, renewed as it turns ------------------------------------------
  let codeTimer = null;
  async function showCode() {
    L.show(L.$("#code-screen"));
    try {
      const code = await L.api(FACE, `/api/v1/stations/${station}/code`);
      const img = L.$("#code-image");
      const old = img.src;
      img.src = await L.blobUrl(FACE, `/api/v1/stations/${station}/code.png`);
      if (old) URL.revokeObjectURL(old);
      img.dataset.payload = code.payload;
      L.$("#code-note").textContent = t.code_expires;
      // a code stays valid for one more step after its own: renew as soon as the step turns
      const wait = Math.max(1000, new Date(code.expires_at) - Date.now() + 300);
      codeTimer = setTimeout(showCode, wait);
    } catch (err) {
      L.$("#code-note").textContent = L.problemText(err);
      codeTimer = setTimeout(showCode, 5000);
    }
  }
  function hideCode() {
    clearTimeout(codeTimer);
    L.show(L.$("#code-screen"), false);
    scanBox.focus();
  }

  // --- the camera (L.camera): on, or off again ------------------------------------------------------
  async function toggleCamera() {
    if (camera) {
      camera();
      camera = null;
      return;
    }
    camera = await L.camera(FACE, L.$("#camera"), scan);
    if (!camera) showAnswer("no", [L.el("div", { class: "message" }, t.no_camera)]);
  }

  // --- logging in as the station's device ----------------------------------------------------------
  async function start() {
    if (!L.tokens.get(FACE)) {
      L.show(L.$("#desk"), false);
      L.show(L.$("#login"));
      return;
    }
    try {
      const me = await L.api(FACE, "/api/v1/me");
      const bound = (me.grants || []).find((g) => g.station_id);
      if (bound) station = bound.station_id;
      if (!station) {
        L.tokens.drop(FACE);
        L.show(L.$("#station-label"));
        L.say(L.$("#login-error"), t.not_bound, "warn");
        return start();
      }
      localStorage.setItem(STATION, String(station));
    } catch (err) {
      if (err instanceof L.ApiError) return start();
      goOffline();  // a tablet that starts without the network still takes scans
    }
    L.show(L.$("#login"), false);
    L.show(L.$("#desk"));
    banner();
    showSynced(CounterOffline.synced(L.today()));
    refreshToday();
    scanBox.focus();
  }

  L.staffLogin(FACE, L.$("#login-error"), (f) => {
    if (f.get("station")) station = Number(f.get("station"));
    start();
  });

  scanBox.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      const value = scanBox.value;
      scanBox.value = "";
      scan(value);
    }
  });
  // the scan box keeps focus, whatever was touched, unless a form or the code screen is up
  const refocus = () => setTimeout(() => {
    const up = (sel) => !L.$(sel).classList.contains("hidden");
    const typing = document.activeElement && document.activeElement.closest("#cash-form");  // counting the cash
    if (up("#desk") && !up("#code-screen") && !up("#void-screen") && !typing) scanBox.focus();
  }, 50);
  scanBox.addEventListener("blur", refocus);
  document.addEventListener("click", refocus);
  L.$("#answer").addEventListener("click", hideAnswer);
  L.$("#camera-button").addEventListener("click", toggleCamera);
  L.$("#code-button").addEventListener("click", showCode);
  L.$("#code-close").addEventListener("click", hideCode);
  L.$("#shop-button").addEventListener("click", () => shop(!shopMode));
  L.$("#shop-close").addEventListener("click", () => shop(false));
  L.$("#void-form").addEventListener("submit", submitVoid);
  L.$("#void-cancel").addEventListener("click", hideVoid);
  L.$("#close-button").addEventListener("click", closeDay);
  L.logout(FACE, () => {
    localStorage.removeItem(STATION);
    station = null;
    start();
  });
  window.addEventListener("online", sync);
  window.addEventListener("offline", goOffline);
  setInterval(() => { if (offline || queued().length) sync(); }, 5000);
  setInterval(refreshToday, 30000);
  start();
})();
