// The reviewer's page (项目评审, /review), made for a phone: a guest logs in with an SMS code to the
// phone the hub invited (staff with their password); the round's submitted proposals, each scored
// 0 to 10 on every criterion; a proposal of the reviewer's own organization is marked, with no form
// (conflict of interest); only the reviewer's own scores until the hub closes the review, then the
// ranking.
"use strict";
(() => {
  const FACE = "review";
  const t = L.t;
  const note = L.$("#note");
  const fail = (err) => L.say(note, L.problemText(err), "bad");
  let rounds = [];

  async function start() {
    if (!L.tokens.get(FACE)) {
      L.show(L.$("#desk"), false);
      L.show(L.$("#login"));
      return;
    }
    L.show(L.$("#login"), false);
    L.show(L.$("#desk"));
    try {
      const all = await L.all(FACE, "/api/v1/rounds");
      // the rounds this person reviews: those whose sheet answers
      const sheets = await Promise.all(all.map((r) => L.api(FACE, `/api/v1/rounds/${r.id}/review-sheet`).catch((err) => {
        if (err instanceof L.ApiError && err.status === 401) throw err;
        return null;
      })));
      rounds = all.map((r, i) => ({ round: r, sheet: sheets[i] })).filter((x) => x.sheet);
      const pick = L.$("#round-pick");
      const chosen = Number(pick.value) || (rounds[0] && rounds[0].round.id);
      pick.replaceChildren(...rounds.map((x) => L.el("option", { value: x.round.id }, x.round.name)));
      if (!rounds.length) return L.say(L.$("#sheet-state"), t.no_rounds, "pending");
      pick.value = chosen;
      show();
    } catch (err) {
      if (err instanceof L.ApiError && err.status === 401) return start();
      fail(err);
    }
  }
  L.$("#round-pick").addEventListener("change", show);

  async function show() {
    const x = rounds.find((r) => r.round.id === Number(L.$("#round-pick").value));
    if (!x) return;
    const r = x.round;
    const closed = Boolean(r.review_closed_at);
    const state = r.state === "call" ? t.not_yet : closed ? t.closed : t.own_only;
    L.say(L.$("#sheet-state"), state, closed ? "ok" : "pending");
    L.$("#sheet").replaceChildren(...x.sheet.items.map((item) => card(r, item, !closed && r.state === "review")));
    L.show(L.$("#final"), closed);
    if (closed) {
      try {
        const ranking = await L.api(FACE, `/api/v1/rounds/${r.id}/ranking`);
        L.$("#final").replaceChildren(L.table(["", ""], ranking.items.map((i) => [
          `${i.rank}. ${i.title}`, i.weighted_average === null ? t.no_scores : `${t.average} ${i.weighted_average.toFixed(2)}`,
        ])));
      } catch (err) { fail(err); }
    }
  }

  function card(r, item, scoring) {
    const p = item.proposal;
    const facts = [
      L.el("p", { class: "title" }, p.title),
      L.el("p", {}, `${item.org_name} · ${t.fields[p.field] || p.field} · ${p.starts_on} – ${p.ends_on}`),
      L.el("p", {}, `${t.goals}：${p.goal_activities} ${t.activities}，${t.served} ${p.goal_served}，${t.volunteer_times} ${p.goal_volunteer_times}`),
      L.el("p", {}, `${t.budget} ${L.yuan(p.budget_total)}：`, p.budget.map((b) => `${b.item} ${L.yuan(b.amount)}`).join("，")),
      p.summary ? L.el("p", { class: "muted" }, p.summary) : null,
    ];
    if (item.conflict_of_interest) {
      return L.el("div", { class: "card", "data-proposal": p.id, "data-conflict": "true" }, ...facts,
        L.el("p", { class: "notice warn" }, t.conflict));
    }
    const mine = item.mine;
    const summary = mine ? L.el("p", { "data-mine": p.id }, `${t.mine}：${mine.weighted.toFixed(2)}`) : null;
    if (!scoring) return L.el("div", { class: "card", "data-proposal": p.id }, ...facts, summary);
    const form = L.el("form", { "data-score": p.id },
      ...r.criteria.map((c) => L.el("label", {}, `${c.name}（${c.weight}）`,
        L.el("select", { name: c.name, required: true },
          L.el("option", { value: "" }, "—"),
          ...Array.from({ length: 11 }, (_, n) => L.el("option", { value: n, selected: mine && mine.scores[c.name] === n ? "selected" : null }, String(n)))))),
      L.el("label", {}, t.comment, L.el("textarea", { name: "comment", maxlength: 500 }, mine ? mine.comment : "")),
      L.el("button", { type: "submit" }, t.save));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const scores = Object.fromEntries(r.criteria.map((c) => [c.name, Number(form.elements[c.name].value)]));
      try {
        const s = await L.api(FACE, `/api/v1/proposals/${p.id}/scores`, { method: "POST", body: { scores, comment: form.elements.comment.value } });
        item.mine = s;
        L.say(note, t.saved);
        show();  // the sheet again, with this score
      } catch (err) { fail(err); }
    });
    return L.el("div", { class: "card", "data-proposal": p.id }, ...facts, summary, form);
  }

  // Logins: a guest by SMS code (as a staff login: "kind": "staff"), staff by password
  L.$("#code-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    L.askCode(FACE, note, ev.target.phone.value);
  });
  async function logIn(body) {
    try {
      L.tokens.set(FACE, (await L.api(FACE, "/api/v1/auth/tokens", { method: "POST", body })).token);
      L.say(note, "");
      start();
    } catch (err) { fail(err); }
  }
  L.$("#code-login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    logIn({ phone: L.$("#code-form").phone.value, code: ev.target.code.value, kind: "staff" });
  });
  L.$("#password-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    logIn({ username: ev.target.username.value, password: ev.target.password.value });
  });
  L.logout(FACE, start);
  start();
})();
