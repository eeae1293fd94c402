// The hub's micro-grant rounds (公益微创投, /admin/rounds): the list and a new round (funders,
// criteria, limits); one round (/admin/rounds/{id}): reviewers, how many scored each proposal, the
// review closed, the ranking with its ties explained, decisions, the notice and its objections, and
// each project's money (tranches paid in, spendings with receipts, reversals). Same login as /admin.
"use strict";
(() => {
  const FACE = "admin";
  const t = L.t;
  const note = L.$("#note");
  const roundId = Number((location.pathname.match(/^\/admin\/rounds\/(\d+)/) || [])[1] || 0);
  const fen = (yuan) => Math.round(parseFloat(yuan) * 100);
  const table = (headers, rows) => { const tbl = L.table(headers, rows); tbl.classList.add("stack"); return tbl; };
  let orgNames = {};

  async function start() {
    if (!L.tokens.get(FACE)) {
      L.show(L.$("#desk"), false);
      L.show(L.$("#login"));
      return;
    }
    L.show(L.$("#login"), false);
    L.show(L.$("#desk"));
    try {
      const orgs = await L.all(FACE, "/api/v1/organizations");
      orgNames = Object.fromEntries(orgs.map((o) => [o.id, o.name]));
      if (roundId) await showRound(orgs);
      else await showList(orgs);
    } catch (err) {
      if (err instanceof L.ApiError && err.status === 401) return start();
      L.say(note, L.problemText(err), "bad");
    }
  }
  const fail = (err) => L.say(note, L.problemText(err), "bad");

  // The list and the form of a new round ---------------------------------------------------------
  async function showList(orgs) {
    L.show(L.$("#list-view"));
    const rounds = await L.all(FACE, "/api/v1/rounds");
    L.$("#rounds").replaceChildren(rounds.length ? table(["", "", "", ""], rounds.map((r) => [
      L.el("a", { href: `/admin/rounds/${r.id}` }, r.name),
      t.states[r.state] || r.state,
      `${L.dt(r.call_opens_at)} – ${L.dt(r.call_closes_at)}`,
      `${t.funds} ${L.yuan(r.funds)}`,
    ])) : L.el("p", { class: "muted" }, t.none));
    const hubs = orgs.filter((o) => o.kind === "hub" || o.kind === "base");
    L.$("#open-hub").replaceChildren(...hubs.map((o) => L.el("option", { value: o.id }, o.name)));
    const form = L.$("#open-form");
    if (!form.call_opens_at.value) {
      const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
      form.call_opens_at.value = local(new Date());
      form.call_closes_at.value = local(new Date(Date.now() + 14 * 86400000));
      if (!L.$("#funder-rows").children.length) funderRow();
      if (!L.$("#criterion-rows").children.length) criterionRow();
    }
  }
  function remover() {
    return L.el("button", { type: "button", class: "secondary", onclick: (ev) => ev.target.closest("div.row").remove() }, t.remove);
  }
  function funderRow() {
    L.$("#funder-rows").append(L.el("div", { class: "row inline-actions" },
      L.el("label", {}, t.funders, " ", L.el("select", { name: "funder_kind" },
        ...Object.entries(t.funder_kinds).map(([k, v]) => L.el("option", { value: k }, v)))),
      L.el("label", {}, L.el("input", { name: "funder_name", required: true, maxlength: 100, "aria-label": t.funders })),
      L.el("label", {}, t.amount_yuan, " ", L.el("input", { name: "funder_amount", type: "number", min: "0.01", step: "0.01", required: true })),
      remover()));
  }
  function criterionRow() {
    L.$("#criterion-rows").append(L.el("div", { class: "row inline-actions" },
      L.el("label", {}, t.criteria, " ", L.el("input", { name: "criterion_name", required: true, maxlength: 50 })),
      L.el("label", {}, t.weight, " ", L.el("input", { name: "criterion_weight", type: "number", min: 1, max: 100, required: true })),
      remover()));
  }
  L.$("#add-funder").addEventListener("click", funderRow);
  L.$("#add-criterion").addEventListener("click", criterionRow);
  L.$("#open-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const all = (name) => [...f.querySelectorAll(`[name=${name}]`)].map((i) => i.value);
    const kinds = all("funder_kind"), names = all("funder_name"), amounts = all("funder_amount");
    const cnames = all("criterion_name"), weights = all("criterion_weight");
    const body = {
      org_id: Number(f.org_id.value),
      name: f.name.value,
      description: f.description.value,
      call_opens_at: new Date(f.call_opens_at.value).toISOString(),
      call_closes_at: new Date(f.call_closes_at.value).toISOString(),
      funders: kinds.map((k, i) => ({ kind: k, name: names[i], amount: fen(amounts[i]) })),
      criteria: cnames.map((n, i) => ({ name: n, weight: Number(weights[i]) })),
      notice_days: Number(f.notice_days.value || 7),
    };
    if (f.max_grants.value) body.max_grants = Number(f.max_grants.value);
    if (f.total_limit.value) body.total_limit = fen(f.total_limit.value);
    if (f.grant_limit.value) body.grant_limit = fen(f.grant_limit.value);
    try {
      const r = await L.api(FACE, "/api/v1/rounds", { method: "POST", body });
      location.assign(`/admin/rounds/${r.id}`);
    } catch (err) { fail(err); }
  });

  // One round --------------------------------------------------------------------------------------
  let round = null;
  async function showRound(orgs) {
    L.show(L.$("#round-view"));
    round = await L.api(FACE, `/api/v1/rounds/${roundId}`);
    L.$("#round-name").textContent = `${round.name} · ${t.states[round.state] || round.state}`;
    const limits = [
      round.max_grants ? `${t.max_grants} ${round.max_grants}` : null,
      round.grant_limit ? `${t.grant_limit} ${L.yuan(round.grant_limit)}` : null,
      round.total_limit ? `${t.total_limit} ${L.yuan(round.total_limit)}` : null,
      `${t.notice_days} ${round.notice_days}`,
    ].filter(Boolean).join("，");
    L.$("#round-facts").replaceChildren(
      L.el("p", {}, `${t.call}：${L.dt(round.call_opens_at)} – ${L.dt(round.call_closes_at)}`),
      L.el("p", {}, `${t.funders}：`, round.funders.map((f) => `${t.funder_kinds[f.kind] || f.kind} ${f.name} ${L.yuan(f.amount)}`).join("；"),
        `（${t.funds} ${L.yuan(round.funds)}）`),
      L.el("p", {}, `${t.criteria}：`, round.criteria.map((c) => `${c.name} ${c.weight}`).join("，")),
      L.el("p", {}, `${t.limits}：${limits}`));
    const inside = orgs.filter((o) => o.kind === "organization" || o.kind === "team");
    L.$("#affiliation").replaceChildren(L.el("option", { value: "" }, t.none), ...inside.map((o) => L.el("option", { value: o.id }, o.name)));
    L.show(L.$("#reviewer-form"), !round.review_closed_at && (round.state === "call" || round.state === "review"));
    await progress();
    const closed = Boolean(round.review_closed_at);
    L.show(L.$("#close-review"), round.state === "review" && !closed);
    L.show(L.$("#ranking-part"), closed);
    if (closed) await ranking();
    const published = round.state === "notice" || round.state === "granted";
    L.show(L.$("#publish"), closed && !published);
    L.show(L.$("#notice-part"), published);
    L.$("#notice-link").href = `/rounds/${round.id}`;
    if (published) await objections();
    await projects();
  }

  let proposals = [];
  async function progress() {
    proposals = await L.all(FACE, `/api/v1/rounds/${roundId}/proposals`);
    const counted = await Promise.all(proposals.map(async (p) => {
      if (!p.submitted_at) return null;
      const s = await L.api(FACE, `/api/v1/proposals/${p.id}/scores`);
      return s.items.length + s.hidden;
    }));
    L.$("#progress").replaceChildren(proposals.length ? table(["", "", "", "", ""], proposals.map((p, i) => [
      p.title, orgNames[p.org_id] || "", t.status[p.status] || p.status, L.yuan(p.budget_total),
      L.el("span", { "data-scored": p.id }, counted[i] === null ? "" : `${counted[i]} ${t.reviewers_scored}`),
    ])) : L.el("p", { class: "muted" }, t.none));
  }
  L.$("#close-review").addEventListener("click", async () => {
    try {
      await L.api(FACE, `/api/v1/rounds/${roundId}/close-review`, { method: "POST" });
      L.say(note, t.closed_review);
      start();
    } catch (err) { fail(err); }
  });

  async function ranking() {
    const r = await L.api(FACE, `/api/v1/rounds/${roundId}/ranking`);
    L.$("#ranking-rule").textContent = L.inLang(r.rule);
    const open = round.state === "review";
    L.$("#ranking").replaceChildren(r.items.length ? table(["", "", "", "", ""], r.items.map((x) => [
      `${x.rank}. ${x.title}`,
      orgNames[x.org_id] || "",
      L.el("span", {}, x.weighted_average === null ? t.no_scores : `${t.average} ${x.weighted_average.toFixed(2)}（${x.reviews}）`,
        x.tie_broken_by ? L.el("span", { class: "muted", "data-tie": x.proposal_id }, ` ${t.ties[x.tie_broken_by]}`) : null),
      decision(x, proposals.find((p) => p.id === x.proposal_id)),
      open ? decideForm(x) : "",
    ])) : L.el("p", { class: "muted" }, t.none));
  }
  function decision(x, p) {
    if (!p || (p.status !== "approved" && p.status !== "rejected")) return t.status[x.status] || x.status;
    const what = p.status === "approved" ? `${t.status.approved} ${L.yuan(p.decided_amount)}` : t.status.rejected;
    return L.el("span", { "data-decision": p.id }, p.decision_reason ? `${what}（${p.decision_reason}）` : what);
  }
  function decideForm(x) {
    const amount = L.el("input", { type: "number", min: "0.01", step: "0.01", name: "amount", value: (x.budget_total / 100).toFixed(2), "aria-label": t.amount_yuan });
    const reason = L.el("input", { name: "reason", maxlength: 500, placeholder: t.reason, "aria-label": t.reason });
    const go = async (what) => {
      const body = what === "approve" ? { amount: fen(amount.value), reason: reason.value } : { reason: reason.value };
      try {
        await L.api(FACE, `/api/v1/proposals/${x.proposal_id}/${what}`, { method: "POST", body });
        L.say(note, t.decided);
        await progress();
        await ranking();
      } catch (err) { fail(err); }
    };
    return L.el("span", { class: "actions", "data-decide": x.proposal_id },
      L.el("label", {}, t.amount_yuan, " ", amount), " ", L.el("label", {}, t.reason, " ", reason), " ",
      L.el("button", { type: "button", "data-approve": x.proposal_id, onclick: () => go("approve") }, t.approve), " ",
      L.el("button", { type: "button", class: "secondary", "data-reject": x.proposal_id, onclick: () => go("reject") }, t.reject));
  }
  L.$("#publish").addEventListener("click", async () => {
    try {
      await L.api(FACE, `/api/v1/rounds/${roundId}/publish`, { method: "POST" });
      L.say(note, t.published);
      start();
    } catch (err) { fail(err); }
  });

  async function objections() {
    const list = await L.all(FACE, `/api/v1/rounds/${roundId}/objections`);
    L.$("#objections").replaceChildren(list.length ? table(["", "", ""], list.map((o) => [L.dt(o.created_at), o.text, o.contact || ""]))
      : L.el("p", { class: "muted" }, t.none));
  }

  L.$("#reviewer-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const body = f.staff_user_id.value ? { staff_user_id: Number(f.staff_user_id.value) } : { phone: f.phone.value, name: f.name.value };
    if (!f.staff_user_id.value && f.affiliation_org_id.value) body.affiliation_org_id = Number(f.affiliation_org_id.value);
    try {
      const r = await L.api(FACE, `/api/v1/rounds/${roundId}/reviewers`, { method: "POST", body });
      const words = [t.reviewer_added, r.username];
      if (r.guest) words.push(`${t.guest_sms} ${location.origin}/review`);
      if (r.password) words.push(`${t.password_once} ${r.password}`);
      L.say(L.$("#reviewer-answer"), words.join(" "), r.password ? "warn" : "ok");
      f.reset();
    } catch (err) { fail(err); }
  });

  // Money: each project's account, tranches, spendings and their reversals ---------------------------
  async function projects() {
    const list = await L.all(FACE, `/api/v1/rounds/${roundId}/projects`);
    if (!list.length) return L.$("#projects").replaceChildren(L.el("p", { class: "muted" }, t.no_projects));
    L.$("#projects").replaceChildren(...await Promise.all(list.map(projectCard)));
  }
  async function projectCard(p) {
    const [acc, spendings] = await Promise.all([
      L.api(FACE, `/api/v1/projects/${p.id}/account`), L.all(FACE, `/api/v1/projects/${p.id}/spending`),
    ]);
    const amount = L.el("input", { type: "number", min: "0.01", step: "0.01", name: "amount", required: true });
    const tnote = L.el("input", { name: "note", maxlength: 200 });
    const pay = L.el("form", { class: "inline", "data-pay": p.id, onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await L.api(FACE, `/api/v1/projects/${p.id}/tranches`, { method: "POST", body: { key: L.uuid().slice(0, 36), amount: fen(amount.value), note: tnote.value } });
        L.say(note, t.paid);
        projects();
      } catch (err) { fail(err); }
    } }, L.el("label", {}, t.amount_yuan, " ", amount), L.el("label", {}, t.note, " ", tnote), L.el("button", { type: "submit" }, t.pay));
    return L.el("div", { class: "card", "data-project": p.id },
      L.el("p", { class: "title" }, `${p.title} · ${orgNames[p.org_id] || ""}`),
      L.el("p", { "data-account": p.id }, [
        `${t.granted} ${L.yuan(acc.granted)}`, `${t.paid_in} ${L.yuan(acc.paid_in)}`, `${t.spent} ${L.yuan(acc.spent)}`,
        `${t.balance} ${L.yuan(acc.balance)}`, `${t.to_pay_in} ${L.yuan(acc.to_pay_in)}`,
      ].join("，")),
      acc.to_pay_in > 0 ? pay : null,
      L.el("p", {}, t.spendings),
      spendings.length ? table(["", "", "", "", ""], spendings.map((s) => [
        s.spent_on, `${s.category_name} ${L.yuan(s.amount)}`, s.note,
        L.el("button", { type: "button", class: "secondary", onclick: () => receipt(s) }, t.receipt),
        s.reversal ? L.el("span", { "data-reversed": s.id }, `${t.reversed}：${s.reversal.reason}`) : reverseForm(p, s),
      ])) : L.el("p", { class: "muted" }, t.none));
  }
  function reverseForm(p, s) {
    const reason = L.el("input", { name: "reason", maxlength: 500, required: true, "aria-label": t.reverse_reason, placeholder: t.reverse_reason });
    return L.el("form", { class: "inline", "data-reverse": s.id, onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await L.api(FACE, `/api/v1/projects/${p.id}/spending/${s.id}/reverse`, { method: "POST", body: { reason: reason.value } });
        projects();
      } catch (err) { fail(err); }
    } }, reason, L.el("button", { type: "submit", class: "danger" }, t.reverse));
  }
  async function receipt(s) {
    try {
      const url = await L.blobUrl(FACE, s.receipt_url);
      const a = L.el("a", { href: url, download: `receipt-${s.id}` });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (err) { fail(err); }
  }

  L.staffLogin(FACE, note, start);
  L.logout(FACE, start);
  start();
})();
