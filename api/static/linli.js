// 邻里 Linli: what every page shares. Plain JavaScript, no build step.
"use strict";
const L = (() => {
  const base = JSON.parse(document.getElementById("texts").textContent);
  const page = JSON.parse(document.getElementById("page-texts").textContent);
  const t = { ...base, ...page };

  // Each face keeps its own login (a tablet's coordinator is not the phone's volunteer).
  const tokens = {
    get: (face) => localStorage.getItem("linli_token_" + face),
    set: (face, token) => localStorage.setItem("linli_token_" + face, token),
    drop: (face) => localStorage.removeItem("linli_token_" + face),
  };

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || ("HTTP " + status));
      this.status = status;
      this.problem = problem || {};
    }
  }

  // The JSON API with this face's token. Throws ApiError for an answer that is not 2xx,
  // TypeError when the network is down.
  async function api(face, path, { method = "GET", body, raw = false } = {}) {
    const headers = {};
    const token = tokens.get(face);
    if (token) headers["Authorization"] = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!r.ok) {
      let problem = null;
      try { problem = await r.json(); } catch (e) { /* not JSON */ }
      if (r.status === 401) tokens.drop(face);
      throw new ApiError(r.status, problem);
    }
    if (raw) return r;
    return r.status === 204 ? null : r.json();
  }

  // Every item of a list ({"items": [...], "next": cursor or null}), page after page.
  async function all(face, path) {
    const items = [];
    let cursor = null;
    do {
      const sep = path.includes("?") ? "&" : "?";
      const page = await api(face, `${path}${sep}limit=200${cursor ? "&cursor=" + encodeURIComponent(cursor) : ""}`);
      items.push(...page.items);
      cursor = page.next;
    } while (cursor);
    return items;
  }

  // A list drawn by more than one caller (a tab's first load, the reload after a change): call the
  // ticket at the start of each load and draw only while `current()` holds, so that a slow early
  // answer is never drawn over a later one (a busy machine answers out of order).
  function latest() {
    let asked = 0;
    return () => { const mine = ++asked; return () => mine === asked; };
  }

  // The engine's bilingual messages ("中文 English") in halves: the English starts at the first
  // word in Latin letters or digits after some Chinese from which on no Chinese character or
  // punctuation follows (a name in “quotes” aside). The same rule as api/i18n.py `split_message`;
  // without English both halves are the whole message.
  const HAN = /[\u3400-\u9fff]/;
  const CHINESE = /[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/;  // characters and their punctuation
  function split(text) {
    const s = String(text);
    for (let i = 1; i < s.length; i++) {
      if (!/[A-Za-z0-9]/.test(s[i]) || /[A-Za-z0-9_{.]/.test(s[i - 1]) || !HAN.test(s.slice(0, i))) continue;
      if (!CHINESE.test(s.slice(i).replace(/“[^”]*”|「[^」]*」/g, ""))) return [s.slice(0, i).trim(), s.slice(i).trim()];
    }
    return [s, s];
  }
  // a bilingual message in the page's language (Chinese only, or English only with ?lang=en)
  const inLang = (text) => split(text)[t.lang === "en" ? 1 : 0];

  // A problem+json answer in words, in the page's language: the fields' messages, or the detail.
  function problemText(err) {
    if (!(err instanceof ApiError)) return t.network;
    const p = err.problem;
    if (p.errors && p.errors.length) return p.errors.map((e) => inLang(e.message)).join(t.lang === "en" ? "; " : "；");
    return inLang(p.detail || p.title || ("HTTP " + err.status));
  }

  const money = new Intl.NumberFormat("zh-CN", { style: "currency", currency: "CNY" });
  const yuan = (fen) => money.format((fen || 0) / 100);
  const when = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
  const dt = (iso) => (iso ? when.format(new Date(iso)) : "");
  // today's date where the engine reckons days (Asia/Shanghai), as YYYY-MM-DD
  const today = () => new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
  const hours = (minutes) => (Math.round((minutes || 0) / 6) / 10).toString();

  // Build elements without innerHTML (names and notes come from people).
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  const $ = (sel) => document.querySelector(sel);
  function show(node, visible = true) { node.classList.toggle("hidden", !visible); }
  function say(node, text, kind = "ok") {
    node.textContent = text;
    node.className = "notice " + kind;
    show(node, Boolean(text));
  }

  // An image or file the API serves behind the token, as an object URL.
  async function blobUrl(face, path) {
    const r = await api(face, path, { raw: true });
    return URL.createObjectURL(await r.blob());
  }

  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // A staff face's login form (#login-form: username and password): the token is kept for this
  // face, then `done(form data)`; a refusal is said in `note`.
  function staffLogin(face, note, done) {
    $("#login-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      try {
        const body = { username: f.get("username"), password: f.get("password") };
        tokens.set(face, (await api(face, "/api/v1/auth/tokens", { method: "POST", body })).token);
        say(note, "");
        done(f);
      } catch (err) {
        say(note, problemText(err), "bad");
      }
    });
  }

  // A volunteer's login by SMS code: askCode sends a code to the phone; codeLogin wires
  // #code-form (the phone) and #login-form (the code): the token is kept for this face, then
  // `done()`. What happened is said in `note` (the page's texts carry `code_sent`).
  async function askCode(face, note, phone) {
    try {
      await api(face, "/api/v1/auth/codes", { method: "POST", body: { phone } });
      say(note, t.code_sent);
    } catch (err) { say(note, problemText(err), "bad"); }
  }
  function codeLogin(face, note, done) {
    const phoneForm = $("#code-form");
    phoneForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      askCode(face, note, phoneForm.phone.value);
    });
    $("#login-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const code = new FormData(ev.target).get("code");
      try {
        const r = await api(face, "/api/v1/auth/tokens", { method: "POST", body: { phone: phoneForm.phone.value, code } });
        tokens.set(face, r.token);
        say(note, "");
        done();
      } catch (err) { say(note, problemText(err), "bad"); }
    });
  }

  // The camera reading QR codes into `found(payload)`: the browser's BarcodeDetector where it
  // exists, elsewhere frames decoded by the server (POST /api/v1/qr/decode). Returns a function
  // that stops it, or null when the device gives no camera.
  async function camera(face, video, found) {
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (e) {
      return null;
    }
    video.srcObject = stream;
    show(video);
    await video.play();
    const detector = "BarcodeDetector" in window ? new BarcodeDetector({ formats: ["qr_code"] }) : null;
    const canvas = document.createElement("canvas");
    let on = true;
    let last = "";
    const look = async () => {
      if (!on) return;
      let payload = null;
      try {
        if (detector) {
          const seen = await detector.detect(video);
          payload = seen.length ? seen[0].rawValue : null;
        } else {
          canvas.width = video.videoWidth; canvas.height = video.videoHeight;
          canvas.getContext("2d").drawImage(video, 0, 0);
          const blob = await new Promise((ok) => canvas.toBlob(ok, "image/png"));
          const headers = { "Content-Type": "image/png", Authorization: "Bearer " + tokens.get(face) };
          const r = await fetch("/api/v1/qr/decode", { method: "POST", headers, body: blob });
          payload = r.ok ? (await r.json()).payload : null;
        }
      } catch (e) { /* try the next frame */ }
      if (on && payload && payload !== last) { last = payload; found(payload); }
      setTimeout(look, detector ? 200 : 800);
    };
    look();
    return () => {
      on = false;
      stream.getTracks().forEach((tr) => tr.stop());
      show(video, false);
    };
  }

  // The #logout button: the token revoked on the server and forgotten here, then `done()`.
  function logout(face, done) {
    $("#logout").addEventListener("click", async () => {
      try { await api(face, "/api/v1/auth/tokens/current", { method: "DELETE" }); } catch (e) { /* gone anyway */ }
      tokens.drop(face);
      done();
    });
  }

  function table(headers, rows) {
    return el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))));
  }

  return {
    t, tokens, api, all, latest, ApiError, split, inLang, problemText, yuan, dt, today, hours, el, $, show, say, blobUrl, uuid, table, staffLogin, logout,
    askCode, codeLogin, camera,
  };
})();
