// 我的一年 on the volunteer's phone: GET /api/v1/dashboards/me drawn by dash.js (hours per month
// for the last 12 months, points earned and spent), and above it the way to the next star level
// as a progress bar from the figures star_level, next_level_hours and minutes_to_go.
"use strict";
window.MeYear = (FACE, note) => {
  const t = L.t;
  const board = Dash.mount(L.$("#year-dash"), {
    face: FACE,
    meta: false,
    url: () => "/api/v1/dashboards/me",
    onData: progress,
    onError: (err) => L.say(note, L.problemText(err), "bad"),
  });

  function progress(data) {
    const fig = Object.fromEntries(data.figures.map((f) => [f.key, f.value]));
    const box = L.$("#year-progress");
    if (typeof fig.next_level_hours !== "number" || typeof fig.minutes_to_go !== "number") {
      return box.replaceChildren(L.el("p", { class: "hello" }, t.top_level));
    }
    const goal = fig.next_level_hours * 60;
    const done = Math.min(goal, Math.max(0, goal - fig.minutes_to_go));
    const next = (typeof fig.star_level === "number" ? fig.star_level : 0) + 1;
    box.replaceChildren(
      L.el("label", { for: "star-progress" }, `${t.next_star.replace("{n}", next)}：${L.hours(done)} / ${fig.next_level_hours} ${t.hours}`),
      L.el("progress", { id: "star-progress", class: "stars", max: String(goal), value: String(done) }),
      L.el("p", { id: "to-go" }, `${t.to_go} ${L.hours(fig.minutes_to_go)} ${t.hours}`),
    );
  }
  return { year: board.load, stop: board.stop };
};
