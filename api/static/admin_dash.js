// The hub's dashboard (看板) on the admin page: a hub (or the county) and a month picked, GET
// /api/v1/dashboards/hubs/{org_id} drawn by dash.js and fetched again every refresh_seconds while
// the tab is open; 大屏 opens the same hub full screen for a meeting room (/wall/{org_id}).
"use strict";
window.AdminDash = (FACE, note) => {
  const form = L.$("#dash-form");
  let orgs = null;
  const board = Dash.mount(L.$("#hub-dash"), {
    face: FACE,
    url: () => `/api/v1/dashboards/hubs/${form.org.value}${form.month.value ? "?month=" + form.month.value : ""}`,
    onError: (err) => L.say(note, L.problemText(err), "bad"),
  });

  // the hubs this login sees, then the county bases (a county's wall sums its hubs)
  async function dashboard() {
    if (!orgs) {
      const hubs = (await L.api(FACE, "/api/v1/organizations?kind=hub&limit=200")).items;
      const counties = (await L.api(FACE, "/api/v1/organizations?kind=base&limit=200")).items;
      orgs = [...hubs, ...counties];
      form.org.replaceChildren(...orgs.map((o) => L.el("option", { value: o.id }, o.name)));
    }
    if (!form.org.value) return L.$("#hub-dash").replaceChildren(L.el("p", { class: "muted" }, L.t.none));
    L.$("#wall-link").href = `/wall/${form.org.value}`;
    await board.load();
  }

  form.org.addEventListener("change", () => dashboard());
  form.month.addEventListener("change", () => dashboard());
  form.addEventListener("submit", (ev) => { ev.preventDefault(); dashboard(); });
  return { dashboard, stop: board.stop };
};
