// The wall (数据大屏, /wall/{org_id}): a hub's (or county's) dashboard full screen for a meeting
// room, with the admin page's login (linli_token_admin); the title and a clock on top, fetched
// again every refresh_seconds. Without a login it says so and links to /admin.
"use strict";
(() => {
  const FACE = "admin";
  const org = Number(location.pathname.split("/")[2]);
  const note = L.$("#note");
  const month = new URLSearchParams(location.search).get("month");  // this month unless asked
  const clock = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", weekday: "short", hour: "2-digit", minute: "2-digit", hour12: false,
  });
  const tick = () => { L.$("#wall-clock").textContent = clock.format(new Date()); };
  tick();
  setInterval(tick, 1000);

  function loggedOut() {
    board.stop();
    L.$("#wall-dash").replaceChildren();
    L.show(L.$("#wall-login"));
  }
  const board = Dash.mount(L.$("#wall-dash"), {
    face: FACE,
    look: "wall",
    meta: false,
    url: () => `/api/v1/dashboards/hubs/${org}${month ? "?month=" + encodeURIComponent(month) : ""}`,
    onData: (data) => {
      L.say(note, "");
      L.$("#wall-title").textContent = data.subject || Dash.boardTitle(data);  // the hub, as named
      document.title = `${Dash.boardTitle(data)} · Linli`;
      L.$("#wall-period").textContent = `${data.period_start} – ${data.period_end}`;
    },
    onError: (err) => {
      if (err instanceof L.ApiError && err.status === 401) return loggedOut();
      L.say(note, L.problemText(err), "bad");  // the last numbers stay on the screen
    },
  });
  if (L.tokens.get(FACE)) board.load(); else loggedOut();
})();
