// The counter tablet (取餐台): a scan box that always has focus (a handheld scanner types the code
// and Enter), a full-screen answer with a sound, today's figures, the station code for volunteers,
// and an offline queue that syncs through the batch endpoint.
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
  let camera = null;

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
    box.replaceChildren(...lines.filter(Boolean));
    box.className = kind;
    box.dataset.kind = kind;
    beep(kind);
    clearTimeout(answerTimer);
    answerTimer = setTimeout(hideAnswer, kind === "ok" ? 2500 : 4000);
  }
  function hideAnswer() {
    L.show(L.$("#answer"), false);
  }

  function answerLines(a) {
    const who = (a.diner && a.diner.name) || (a.volunteer && a.volunteer.name) || "";
    const lines = [
      who && L.el("div", { class: "who" }, who),
      L.el("div", { class: "message" }, t.reasons[a.reason || a.outcome] || a.message),
    ];
    const meal = a.meal;
    if (meal && a.outcome !== "rejected") {
      lines.push(L.el("div", { class: "pay" }, `${t.pay} ${L.yuan(meal.paid)}`));
      const split = meal.split.map((s) => `${s.funder} ${L.yuan(s.amount)}`).join(" · ");
      lines.push(L.el("div", { class: "split" }, `${t.price} ${L.yuan(meal.price)} · ${t.subsidy} ${L.yuan(meal.subsidy)}${split ? "（" + split + "）" : ""}`));
    } else if (a.price) {
      lines.push(L.el("div", { class: "split" }, `${t.price} ${L.yuan(a.price)}`));
    }
    if (a.minutes) lines.push(L.el("div", {}, `${a.minutes} ${t.minutes}`));
    if (a.diner && (a.diner.dietary_notes || a.diner.allergies)) {
      const notes = [a.diner.dietary_notes, a.diner.allergies && `${t.allergies}：${a.diner.allergies}`];
      lines.push(L.el("div", { class: "notes" }, notes.filter(Boolean).join(" · ")));
    }
    return lines;
  }

  function remember(text) {
    const list = L.$("#recent");
    list.prepend(L.el("li", {}, `${new Date().toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai" })} ${text}`));
    while (list.children.length > 8) list.lastChild.remove();
  }

  // --- scanning ------------------------------------------------------------------------------------
  async function scan(payload) {
    payload = payload.trim();
    if (!payload) return;
    const item = { payload, station_id: station, scan_id: L.uuid(), scanned_at: new Date().toISOString() };
    if (offline) return queue(item);
    try {
      const a = await L.api(FACE, "/api/v1/scans", { method: "POST", body: item });
      showAnswer(kindOf(a), answerLines(a));
      remember(`${(a.diner && a.diner.name) || (a.volunteer && a.volunteer.name) || ""} ${t.reasons[a.reason || a.outcome] || a.message}`);
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
    q.push(item);
    keep(q);
    showAnswer("queued", [L.el("div", { class: "message" }, t.queued)]);
    remember(t.queued);
    banner();
  }

  function banner() {
    const n = queued().length;
    L.say(L.$("#offline"), offline || n ? `${t.offline} ${n}` : "", "warn");
  }

  function goOffline() {
    offline = true;
    banner();
  }

  async function sync() {
    const q = queued();
    if (!q.length) {
      if (navigator.onLine !== false) { offline = false; banner(); }
      return;
    }
    try {
      const r = await L.api(FACE, "/api/v1/scans/batch", { method: "POST", body: { scans: q } });
      const done = new Set(r.results.map((a) => a.scan_id));
      keep(queued().filter((s) => !done.has(s.scan_id)));
      offline = false;
      banner();
      for (const a of r.results) remember(`${(a.diner && a.diner.name) || (a.volunteer && a.volunteer.name) || ""} ${t.reasons[a.reason || a.outcome] || a.message}`);
      remember(`${t.synced}: ${r.results.length}`);
      refreshToday();
    } catch (err) {
      if (err instanceof L.ApiError && err.status === 401) start();
      // still offline: try again shortly
    }
  }

  // --- today at this station -------------------------------------------------------------------
  async function refreshToday() {
    if (!station) return;
    try {
      const today = await L.api(FACE, `/api/v1/stations/${station}/meals-today`);
      mealPoint = today.meal_point_id;
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
  const hhmm = (iso) => L.dt(iso).slice(-5);
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

  // --- the camera: the browser's BarcodeDetector, or the server decodes a frame -------------------
  async function toggleCamera() {
    const video = L.$("#camera");
    if (camera) {
      camera.getTracks().forEach((tr) => tr.stop());
      camera = null;
      L.show(video, false);
      return;
    }
    try {
      camera = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (e) {
      showAnswer("no", [L.el("div", { class: "message" }, t.no_camera)]);
      return;
    }
    video.srcObject = camera;
    L.show(video);
    await video.play();
    const detector = "BarcodeDetector" in window ? new BarcodeDetector({ formats: ["qr_code"] }) : null;
    const canvas = document.createElement("canvas");
    let last = "";
    const look = async () => {
      if (!camera) return;
      let payload = null;
      try {
        if (detector) {
          const found = await detector.detect(video);
          payload = found.length ? found[0].rawValue : null;
        } else {
          canvas.width = video.videoWidth; canvas.height = video.videoHeight;
          canvas.getContext("2d").drawImage(video, 0, 0);
          const blob = await new Promise((ok) => canvas.toBlob(ok, "image/png"));
          const headers = { "Content-Type": "image/png", Authorization: "Bearer " + L.tokens.get(FACE) };
          const r = await fetch("/api/v1/qr/decode", { method: "POST", headers, body: blob });
          payload = r.ok ? (await r.json()).payload : null;
        }
      } catch (e) { /* try the next frame */ }
      if (payload && payload !== last) { last = payload; scan(payload); }
      setTimeout(look, detector ? 200 : 800);
    };
    look();
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
    if (!L.$("#desk").classList.contains("hidden") && L.$("#code-screen").classList.contains("hidden")) scanBox.focus();
  }, 50);
  scanBox.addEventListener("blur", refocus);
  document.addEventListener("click", refocus);
  L.$("#answer").addEventListener("click", hideAnswer);
  L.$("#camera-button").addEventListener("click", toggleCamera);
  L.$("#code-button").addEventListener("click", showCode);
  L.$("#code-close").addEventListener("click", hideCode);
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
