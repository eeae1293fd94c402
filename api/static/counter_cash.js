// The day's cash sheet at the counter (收款对账): per device and in all, the meals, the cash to
// collect, subsidies, full-price, held and voided meals (GET …/cash-sheet); the cash counted is
// entered in yuan, kept in fen with who and when (POST …/cash-counts), and the difference shown.
"use strict";
const CounterCash = (() => {
  const FACE = "counter";
  const t = L.t;
  let point = null;

  // "12.5" → 1250 fen, exactly (no floating point); null if it is not an amount
  function fen(text) {
    const m = /^\s*(\d{1,8})(?:\.(\d{1,2}))?\s*$/.exec(text || "");
    return m ? Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0")) : null;
  }
  const signed = (n) => `${n > 0 ? "+" : n < 0 ? "−" : ""}${L.yuan(Math.abs(n))}`;

  function who(row) {
    if (!row.device) return t.cash_total;
    if (row.device.startsWith("phone:")) return t.cash_phone;
    const label = row.device.split(" ").slice(1).join(" ");
    return [row.staff_name || row.device, label].filter(Boolean).join(" ");
  }

  function line(row, total) {
    const parts = [
      `${t.meals} ${row.meals}`,
      `${t.cash_due} ${L.yuan(row.paid_total)}`,
      `${t.subsidy} ${L.yuan(row.subsidy_total)}`,
      row.full_price && `${t.cash_full} ${row.full_price}（${L.yuan(row.full_price_paid)}）`,
      row.held && `${t.held} ${row.held}（${L.yuan(row.held_paid)}）`,
      row.voided && `${t.voided} ${row.voided}`,
      row.counted !== null && `${t.cash_counted} ${L.yuan(row.counted)}`,
      row.difference !== null && `${t.difference} ${signed(row.difference)}`,
    ].filter(Boolean);
    return L.el("li", { class: total ? "total" : "", "data-device": row.device, ...(row.difference ? { "data-differs": "" } : {}) },
      L.el("strong", {}, who(row)), ` · ${parts.join(" · ")}`);
  }

  async function refresh(mealPoint) {
    point = mealPoint || point;
    if (!point) return;
    try {
      const sheet = await L.api(FACE, `/api/v1/meal-points/${point}/cash-sheet`);
      L.$("#cash-list").replaceChildren(L.el("ul", { class: "cash" }, [line(sheet.total, true), ...sheet.devices.map((r) => line(r))]));
      const last = sheet.counts[0];
      L.$("#cash-status").textContent = last
        ? `${t.cash_last} ${last.counted_by_name || ""} ${L.dt(last.counted_at).slice(-5)}：${L.yuan(last.counted)}（${t.difference} ${signed(last.difference)}）`
        : t.cash_none;
    } catch (err) { /* offline: keep what is shown */ }
  }

  async function count(ev) {
    ev.preventDefault();
    const value = fen(new FormData(ev.target).get("counted"));
    if (value === null) return L.say(L.$("#cash-note"), t.cash_bad, "warn");
    try {
      const c = await L.api(FACE, `/api/v1/meal-points/${point}/cash-counts`, { method: "POST", body: { counted: value } });
      L.say(L.$("#cash-note"), `${t.cash_saved} ${L.yuan(c.counted)} · ${t.difference} ${signed(c.difference)}`, c.difference ? "warn" : "ok");
      ev.target.reset();
      await refresh();
    } catch (err) {
      L.say(L.$("#cash-note"), L.problemText(err), "warn");
    }
  }

  async function csv() {
    const link = L.el("a", { href: await L.blobUrl(FACE, `/api/v1/meal-points/${point}/cash-sheet.csv`), download: `cash-sheet-${L.today()}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
  }

  L.$("#cash-form").addEventListener("submit", count);
  L.$("#cash-csv").addEventListener("click", csv);
  return { refresh, fen };
})();
