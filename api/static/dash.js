// Dashboards (看板): draws what GET /api/v1/dashboards/... answers, from the JSON alone (never by a
// chart's key): figures as tiles, each chart with Apache ECharts (api/static/vendor/echarts, SVG so
// the page's CSP holds), followed by its numbers as a table (for screen readers, and 表格 to see
// it) and a 下载CSV link (the same endpoint with &chart=<key>&format=csv, with the face's token).
// A suppressed cell ("<5") is a gap in the chart, never a number, and "<5" in the table and tooltip.
"use strict";
const Dash = (() => {
  const texts = JSON.parse(document.getElementById("dash-texts").textContent);
  const number = new Intl.NumberFormat("zh-CN", { maximumFractionDigits: 1 });
  const FONT = 'system-ui, "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif';
  // on white (text colours AA; series 3:1 at least) and on the wall's dark blue
  const LOOKS = {
    page: { font: 16, ink: "#1a1a1a", axis: "#4a4a4a", grid: "#dddddd", tip: "#ffffff",
      palette: ["#0b5d3b", "#1f4e99", "#b5470b", "#7a3e9d", "#8a6d00", "#b00020", "#00707a"] },
    wall: { font: 22, ink: "#f1f5f9", axis: "#cbd5e1", grid: "#33455c", tip: "#13263d",
      palette: ["#5ee0a0", "#7fb2ff", "#ffb86b", "#d9a6ff", "#ffe066", "#ff8a8a", "#5fd7e0"] },
  };

  const suppressed = (v) => v === "<5";
  // what a chart draws: integers as given, fen in yuan, minutes in hours; "<5" and null are gaps
  function plotted(unit, v) {
    if (typeof v !== "number") return null;
    if (unit === "fen") return v / 100;
    if (unit === "minutes") return Math.round(v / 6) / 10;
    return v;
  }
  // a value in words (tiles, tables, tooltips)
  function shown(unit, v) {
    if (suppressed(v)) return "<5";
    if (typeof v !== "number") return "—";
    if (unit === "fen") return L.yuan(v);
    if (unit === "minutes") return `${L.hours(v)} ${texts.hours}`;
    if (unit === "hours") return `${number.format(v)} ${texts.hours}`;
    if (unit === "points") return `${number.format(v)} ${texts.points}`;
    return number.format(v);
  }
  // a tile's value, the unit apart (smaller) so the number stays on one line; the wall in whole yuan
  const whole = new Intl.NumberFormat("zh-CN", { style: "currency", currency: "CNY", maximumFractionDigits: 0 });
  function tile(unit, v, wall) {
    if (typeof v !== "number") return [shown(unit, v), ""];
    if (unit === "fen") return [wall ? whole.format(v / 100) : L.yuan(v), ""];
    if (unit === "minutes") return [L.hours(v), texts.hours];
    if (unit === "hours" || unit === "points") return [number.format(v), unitWord(unit)];
    return [number.format(v), ""];
  }
  const axisLabel = (unit, v) => (unit === "fen" ? `¥${number.format(v)}` : number.format(v));
  const unitWord = (unit) => ({ fen: texts.yuan, minutes: texts.hours, hours: texts.hours, points: texts.points }[unit] || "");
  // a day on the axis as 11-01, a month as it is
  const shortX = (x) => (/^\d{4}-\d{2}-\d{2}$/.test(x) ? x.slice(5) : String(x));
  // the engine's words are bilingual ("1星 1 star"): the page's half; a name people gave (a meal
  // point's, an agreement's) is shown whole, whatever letters it ends in
  const label = (chart, x) => (chart.x_bilingual ? L.inLang(String(x)) : String(x));
  const named = (s) => (s.bilingual ? L.inLang(s.name) : s.name);

  function option(chart, look) {
    const unit = chart.unit;
    const many = chart.series.length > 1;
    const text = { color: look.ink, fontSize: look.font, fontFamily: FONT };
    return {
      animation: false,
      color: look.palette,
      textStyle: text,
      grid: { left: look.font, right: look.font, top: many ? look.font * 2.8 : look.font, bottom: 4, containLabel: true },
      legend: { show: many, top: 0, type: "scroll", textStyle: text, itemWidth: look.font * 1.4, itemHeight: look.font * 0.8,
        pageTextStyle: text, pageIconColor: look.ink },
      // drawn inside the SVG (richText), so no HTML with inline styles reaches the page
      tooltip: {
        trigger: "axis", renderMode: "richText", backgroundColor: look.tip, borderColor: look.axis,
        textStyle: text, formatter: (params) => tooltip(chart, params),
      },
      xAxis: {
        type: "category", data: chart.x.map((x) => label(chart, x)),
        axisLabel: { color: look.axis, fontSize: look.font, formatter: shortX, hideOverlap: true },
        axisLine: { lineStyle: { color: look.axis } }, axisTick: { lineStyle: { color: look.axis } },
      },
      yAxis: {
        type: "value", minInterval: unit === "fen" ? 0 : 1,
        axisLabel: { color: look.axis, fontSize: look.font, formatter: (v) => axisLabel(unit, v) },
        splitLine: { lineStyle: { color: look.grid } },
      },
      series: chart.series.map((s) => ({
        id: s.key,
        name: named(s),
        type: chart.kind === "line" ? "line" : "bar",
        stack: chart.kind === "stacked_bar" ? "total" : undefined,
        data: s.data.map((v) => plotted(unit, v)),
        connectNulls: false,
        showSymbol: true,
        symbolSize: Math.round(look.font / 2),
        lineStyle: { width: Math.max(2, look.font / 6) },
        barMaxWidth: look.font * 3,
      })),
    };
  }

  function tooltip(chart, params) {
    const list = Array.isArray(params) ? params : [params];
    if (!list.length) return "";
    const i = list[0].dataIndex;
    const lines = [label(chart, chart.x[i])];
    for (const p of list) {
      const s = chart.series[p.seriesIndex];
      if (s) lines.push(`${named(s)}：${shown(chart.unit, s.data[i])}`);
    }
    return lines.join("\n");
  }

  // whose board: the engine's title and, as given, the organization's or partner's name
  const boardTitle = (d) => (d.subject ? `${d.subject} · ${L.inLang(d.title)}` : L.inLang(d.title));
  // a chart's title, with what it is about (a round's name, as given)
  const titled = (c) => (c.subject ? `${c.subject} · ${L.inLang(c.title)}` : L.inLang(c.title));
  const noted = (c) => `${L.inLang(c.note)}：${(c.note_items || []).map((n) => `${n.name} ${n.value}`).join("；")}`;

  // the chart's numbers as a table: one row per x, one column per series
  function table(chart) {
    const title = titled(chart);
    const word = unitWord(chart.unit);
    return L.el("table", { class: "dash-table", "data-table": chart.key },
      L.el("caption", {}, word ? `${title}（${word}）` : title),
      L.el("thead", {}, L.el("tr", {}, L.el("th", { scope: "col" }, L.inLang(chart.x_title || "")),
        chart.series.map((s) => L.el("th", { scope: "col" }, named(s))))),
      L.el("tbody", {}, chart.x.map((x, i) => L.el("tr", {}, L.el("th", { scope: "row" }, label(chart, x)),
        chart.series.map((s) => L.el("td", { "data-suppressed": suppressed(s.data[i]) ? "" : null }, shown(chart.unit, s.data[i])))))));
  }

  async function download(face, url, chart, period) {
    const sep = url.includes("?") ? "&" : "?";
    const href = await L.blobUrl(face, `${url}${sep}chart=${encodeURIComponent(chart.key)}&format=csv`);
    const a = L.el("a", { href, download: `linli-${chart.key}-${period}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(href), 60000);
  }

  // charts follow their element's size (a window resized, a tab shown, the wall's grid)
  const watcher = new ResizeObserver((entries) => {
    for (const e of entries) {
      const c = echarts.getInstanceByDom(e.target);
      if (c) c.resize();
    }
  });

  function dispose(box) {
    for (const el of box.querySelectorAll(".chart")) {
      watcher.unobserve(el);
      const c = echarts.getInstanceByDom(el);
      if (c) c.dispose();
    }
  }

  // a tile's number never cut: its type shrinks until it fits the tile (the wall's long amounts)
  function fit(tiles) {
    for (const el of tiles.querySelectorAll(".figure-value")) {
      let size = parseFloat(getComputedStyle(el).fontSize);
      while (el.scrollWidth > el.clientWidth + 1 && size > 16) {
        size *= 0.9;
        el.style.fontSize = `${size}px`;
      }
    }
  }

  // Draws `data` into `box`. face and url: whose token fetches the CSV, from which endpoint;
  // look: "page" (white) or "wall" (dark, large; tables for screen readers only, no CSV link).
  // A table someone opened stays open when the numbers come again.
  function draw(box, data, { face, url, look = "page", meta = true, onError = () => {} } = {}) {
    const style = LOOKS[look];
    const wall = look === "wall";
    const period = `${data.period_start}_${data.period_end}`;
    const open = new Set([...box.querySelectorAll("details[open] [data-table]")].map((t) => t.dataset.table));
    dispose(box);
    const tiles = L.el("ul", { class: "figures" }, data.figures.map((f) => {
      const [value, word] = tile(f.unit, f.value, wall);
      return L.el("li", { "data-figure": f.key },
        L.el("span", { class: "figure-title" }, L.inLang(f.title)),
        L.el("strong", { class: "figure-value", "data-suppressed": suppressed(f.value) ? "" : null }, value,
          word ? L.el("span", { class: "figure-unit" }, ` ${word}`) : null));
    }));
    const drawn = data.charts.map((c) => {
      const title = titled(c);
      const csv = L.el("a", { href: "#", class: "button secondary", "data-csv": c.key }, texts.csv);
      csv.addEventListener("click", (ev) => { ev.preventDefault(); download(face, url, c, period).catch(onError); });
      return L.el("section", { class: "chart-tile", "data-chart-tile": c.key },
        L.el("h3", {}, title),
        L.el("div", { class: "chart", "data-chart": c.key, "data-kind": c.kind, role: "img", "aria-label": `${title}（${texts.see_table}）` }),
        c.note ? L.el("p", { class: "muted dash-note" }, noted(c)) : null,
        wall ? L.el("div", { class: "sr-only" }, table(c))
          : L.el("div", { class: "dash-actions" }, L.el("details", { open: open.has(c.key) ? "" : null }, L.el("summary", {}, texts.table), table(c)), csv));
    });
    const grid = L.el("div", { class: "charts" }, drawn);
    grid.style.setProperty("--cols", String(data.charts.length > 4 ? 3 : 2));
    box.replaceChildren(
      meta ? L.el("p", { class: "dash-meta" }, `${boardTitle(data)} · ${data.period_start} – ${data.period_end} · ${texts.updated} ${L.dt(data.generated_at)}`) : "",
      tiles, grid);
    fit(tiles);
    data.charts.forEach((c, i) => {
      const el = grid.children[i].querySelector(".chart");
      const chart = echarts.init(el, null, { renderer: "svg", locale: L.t.lang === "en" ? "EN" : "ZH" });
      chart.setOption(option(c, style));
      watcher.observe(el);
    });
  }

  // Loads `url()` with the face's token into `box`, again every refresh_seconds the API asks for
  // until stop(); onData(data) after each, onError(err) when it fails (a network failure retries).
  function mount(box, { face, url, look = "page", meta = true, onData = () => {}, onError = () => {} }) {
    let timer = null;
    let on = false;
    let asked = 0;  // only the latest answer is drawn (a month picked twice quickly)
    async function load() {
      clearTimeout(timer);
      on = true;
      const mine = ++asked;
      const path = url();
      try {
        const data = await L.api(face, path);
        if (!on || mine !== asked) return;
        draw(box, data, { face, url: path, look, meta, onError });
        onData(data);
        if (data.refresh_seconds) timer = setTimeout(load, data.refresh_seconds * 1000);
      } catch (err) {
        if (mine !== asked) return;
        onError(err);
        if (on && !(err instanceof L.ApiError)) timer = setTimeout(load, 30000);
      }
    }
    return { load, stop: () => { on = false; clearTimeout(timer); } };
  }

  return { draw, mount, plotted, shown, boardTitle };
})();
