// An organization's proposals and projects (项目申报, /proposals): the rounds open for proposals,
// a proposal written as a draft, changed and submitted while the call is open, the decision; each
// granted project's account and spendings, and a spending recorded with its receipt. Staff login
// (an organization's admin), kept with the admin face.
"use strict";
(() => {
  const FACE = "admin";
  const t = L.t;
  const note = L.$("#note");
  const fen = (yuan) => Math.round(parseFloat(yuan) * 100);
  const table = (headers, rows) => { const tbl = L.table(headers, rows); tbl.classList.add("stack"); return tbl; };
  let rounds = [];
  let editing = null;  // {round, proposal or null}
  let spendingOn = null;  // the project a spending is recorded for

  async function start() {
    if (!L.tokens.get(FACE)) {
      L.show(L.$("#desk"), false);
      L.show(L.$("#login"));
      return;
    }
    L.show(L.$("#login"), false);
    L.show(L.$("#desk"));
    try { await load(); } catch (err) {
      if (err instanceof L.ApiError && err.status === 401) return start();
      L.say(note, L.problemText(err), "bad");
    }
  }
  const fail = (err) => L.say(note, L.problemText(err), "bad");

  async function load() {
    const orgs = await L.all(FACE, "/api/v1/organizations");
    const mine = orgs.filter((o) => o.kind === "organization" || o.kind === "team");
    L.$("#proposal-org").replaceChildren(...mine.map((o) => L.el("option", { value: o.id }, o.name)));
    rounds = await L.all(FACE, "/api/v1/rounds");
    const open = rounds.filter((r) => r.state === "call");
    L.$("#rounds").replaceChildren(open.length ? table(["", "", ""], open.map((r) => [
      r.name, `${t.call_until} ${L.dt(r.call_closes_at)}`,
      L.el("button", { type: "button", "data-write": r.id, onclick: () => edit(r, null) }, t.write),
    ])) : L.el("p", { class: "muted" }, t.none));
    const proposals = (await Promise.all(rounds.map((r) => L.all(FACE, `/api/v1/rounds/${r.id}/proposals`)))).flat();
    L.$("#proposals").replaceChildren(proposals.length ? table(["", "", "", ""], proposals.map((p) => {
      const r = rounds.find((x) => x.id === p.round_id);
      const changeable = r.state === "call" && (p.status === "draft" || p.status === "submitted");
      return [
        `${p.title}（${r.name}）`,
        L.el("span", { "data-status": p.id }, t.status[p.status] || p.status),
        decision(p),
        L.el("span", { class: "actions" },
          changeable ? L.el("button", { type: "button", class: "secondary", "data-edit": p.id, onclick: () => edit(r, p) }, t.edit) : null, " ",
          changeable && p.status === "draft" ? L.el("button", { type: "button", "data-submit": p.id, onclick: () => submit(p.id) }, t.submit) : null),
      ];
    })) : L.el("p", { class: "muted" }, t.none));
    const projects = (await Promise.all(rounds.map((r) => L.all(FACE, `/api/v1/rounds/${r.id}/projects`)))).flat();
    L.$("#projects").replaceChildren(...(projects.length ? await Promise.all(projects.map(projectCard)) : [L.el("p", { class: "muted" }, t.none)]));
  }
  function decision(p) {
    if (p.status === "approved") return `${t.approved_with} ${L.yuan(p.decided_amount)}`;
    if (p.status === "rejected") return `${t.rejected_because}${p.decision_reason || ""}`;
    return "";
  }

  // The proposal form ------------------------------------------------------------------------------
  function line(item = "", amount = "") {
    L.$("#budget-rows").append(L.el("div", { class: "row inline-actions" },
      L.el("label", {}, t.item, " ", L.el("input", { name: "item", required: true, maxlength: 50, value: item })),
      L.el("label", {}, t.amount_yuan, " ", L.el("input", { name: "line_amount", type: "number", min: "0.01", step: "0.01", required: true, value: amount, oninput: total })),
      L.el("button", { type: "button", class: "secondary", onclick: (ev) => { ev.target.closest("div.row").remove(); total(); } }, t.remove)));
  }
  function budget() {
    const f = L.$("#proposal-form");
    const items = [...f.querySelectorAll("[name=item]")].map((i) => i.value);
    const amounts = [...f.querySelectorAll("[name=line_amount]")].map((i) => fen(i.value || 0));
    return items.map((item, i) => ({ item, amount: amounts[i] }));
  }
  function total() {
    L.$("#budget-total").textContent = `${t.amount_yuan} ${L.yuan(budget().reduce((s, b) => s + (b.amount || 0), 0))}`;
  }
  L.$("#add-line").addEventListener("click", () => line());
  function edit(r, p) {
    editing = { round: r, proposal: p };
    const f = L.$("#proposal-form");
    f.reset();
    L.$("#budget-rows").replaceChildren();
    L.$("#proposal-heading").textContent = `${r.name}`;
    if (p) {
      for (const k of ["title", "field", "summary", "goal_activities", "goal_served", "goal_volunteer_times", "starts_on", "ends_on"]) f[k].value = p[k];
      f.org_id.value = p.org_id;
      p.budget.forEach((b) => line(b.item, (b.amount / 100).toFixed(2)));
    } else line();
    f.org_id.disabled = Boolean(p);
    total();
    L.show(L.$("#proposal-part"));
    L.$("#proposal-part").scrollIntoView();
  }
  async function save() {
    const f = L.$("#proposal-form");
    if (!f.reportValidity()) return null;
    const body = {
      title: f.title.value, field: f.field.value, summary: f.summary.value,
      goal_activities: Number(f.goal_activities.value), goal_served: Number(f.goal_served.value),
      goal_volunteer_times: Number(f.goal_volunteer_times.value), starts_on: f.starts_on.value, ends_on: f.ends_on.value,
      budget: budget(),
    };
    if (editing.proposal) return L.api(FACE, `/api/v1/proposals/${editing.proposal.id}`, { method: "PATCH", body });
    const p = await L.api(FACE, `/api/v1/rounds/${editing.round.id}/proposals`, { method: "POST", body: { ...body, org_id: Number(f.org_id.value) } });
    editing.proposal = p;
    return p;
  }
  L.$("#proposal-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      if (await save()) { L.say(note, t.saved); await load(); }
    } catch (err) { fail(err); }
  });
  L.$("#submit-proposal").addEventListener("click", async () => {
    try {
      const p = await save();
      if (!p) return;
      if (p.status === "draft") await L.api(FACE, `/api/v1/proposals/${p.id}/submit`, { method: "POST" });
      L.show(L.$("#proposal-part"), false);
      L.say(note, t.submitted);
      await load();
    } catch (err) { fail(err); }
  });
  async function submit(id) {
    try {
      await L.api(FACE, `/api/v1/proposals/${id}/submit`, { method: "POST" });
      L.say(note, t.submitted);
      await load();
    } catch (err) { fail(err); }
  }

  // Projects: the account, the spendings, a new spending with its receipt ------------------------------
  async function projectCard(p) {
    const [acc, spendings, done] = await Promise.all([
      L.api(FACE, `/api/v1/projects/${p.id}/account`), L.all(FACE, `/api/v1/projects/${p.id}/spending`),
      L.api(FACE, `/api/v1/projects/${p.id}/delivery`),
    ]);
    const figures = { ...done, hours: (done.service_minutes / 60).toFixed(1) };
    return L.el("div", { class: "card", "data-project": p.id },
      L.el("p", { class: "title" }, `${t.project}：${p.title}`),
      L.el("p", { "data-delivery": p.id }, t.delivered.replace(/\{(\w+)\}/g, (_, k) => String(figures[k]))),
      L.el("p", { "data-account": p.id }, [
        `${t.granted} ${L.yuan(acc.granted)}`, `${t.paid_in} ${L.yuan(acc.paid_in)}`,
        `${t.spent} ${L.yuan(acc.spent)}`, `${t.balance} ${L.yuan(acc.balance)}`,
      ].join("，")),
      L.el("p", {}, acc.by_category.filter((c) => c.amount).map((c) => `${c.name} ${L.yuan(c.amount)}`).join("，")),
      L.el("p", {}, t.spendings),
      spendings.length ? table(["", "", "", ""], spendings.map((s) => [
        s.spent_on, `${s.category_name} ${L.yuan(s.amount)}`, s.note,
        s.reversal ? L.el("span", { class: "struck" }, `${t.reversed}：${s.reversal.reason}`)
          : L.el("button", { type: "button", class: "secondary", onclick: () => receipt(s) }, t.receipt),
      ])) : L.el("p", { class: "muted" }, t.none),
      acc.balance > 0 ? L.el("button", { type: "button", "data-spend": p.id, onclick: () => spendFor(p) }, L.$("#spend-heading").textContent) : null);
  }
  function spendFor(p) {
    spendingOn = p;
    const f = L.$("#spend-form");
    f.reset();
    f.spent_on.value = L.today();
    L.show(L.$("#spend-part"));
    L.$("#spend-part").scrollIntoView();
  }
  const base64 = (file) => new Promise((ok, no) => {
    const r = new FileReader();
    r.onload = () => ok(String(r.result).split(",")[1] || "");
    r.onerror = () => no(r.error);
    r.readAsDataURL(file);
  });
  L.$("#spend-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    try {
      const body = {
        key: L.uuid(), amount: fen(f.amount.value), category: f.category.value, spent_on: f.spent_on.value,
        note: f.note.value, receipt: await base64(f.receipt.files[0]),
      };
      await L.api(FACE, `/api/v1/projects/${spendingOn.id}/spending`, { method: "POST", body });
      L.show(L.$("#spend-part"), false);
      L.say(note, t.recorded);
      await load();
    } catch (err) { fail(err); }
  });
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
