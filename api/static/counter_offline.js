// The counter offline (离线暂估): while online the tablet keeps its meal point's rules
// (GET /api/v1/meal-points/{id}/counter-rules, with the time they were fetched); while offline a
// diner's card is quoted from them, marked 暂估 (provisional); after the upload the server's
// amounts are shown beside the quotes, with any difference. The server decides: a quote only
// tells the coordinator what to collect meanwhile. `split` is meals/subsidy.py's, line for line.
"use strict";
const CounterOffline = (() => {
  const RULES = "linli_counter_rules";
  const QUOTES = "linli_counter_quotes";  // scan id → the quote shown, until its upload is answered
  const SYNCED = "linli_counter_synced";  // today's uploaded scans: the quote and the server's amounts
  const read = (key, empty) => { try { return JSON.parse(localStorage.getItem(key)) || empty; } catch (e) { return empty; } };
  const write = (key, value) => localStorage.setItem(key, JSON.stringify(value));

  // --- the rules, kept with when they were fetched -------------------------------------------------
  function saveRules(rules) { write(RULES, rules); }
  function rulesFor(station) {
    const r = read(RULES, null);
    return r && r.station_id === station ? r : null;
  }

  // --- a diner card's id and version, read from its body (the signature is the server's to check) --
  const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  function unb32(text) {
    const bytes = [];
    let bits = 0, value = 0;
    for (const ch of text) {
      const v = B32.indexOf(ch);
      if (v < 0) return null;
      value = (value << 5) | v;
      bits += 5;
      if (bits >= 8) { bits -= 8; bytes.push((value >> bits) & 0xff); }
    }
    return bytes;
  }
  function dinerCard(payload) {
    const parts = String(payload).trim().split("/").pop().toUpperCase().split(".");
    if (parts.length !== 4 || parts[0] !== "D") return null;
    const b = unb32(parts[2]);
    if (!b || b.length < 6) return null;
    return { id: ((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3], version: (b[4] << 8) + b[5] };
  }

  // --- meals/subsidy.py, in JavaScript --------------------------------------------------------------
  function matchingTier(schedule, categories, slot, residence) {
    return schedule.find((t) => t.slots.includes(slot) && (t.categories.includes("*") || t.categories.some((c) => categories.has(c)))
      && (!("residence" in t) || t.residence === residence)) || null;
  }
  function split(price, categories, slot, atHomePoint, fundings, residence = null) {
    const parts = [];
    const exhausted = [];
    let left = price, floor = 0, problem = null;
    const ordered = [...fundings].sort((a, b) => a.stack_order - b.stack_order || a.id - b.id);
    for (const f of ordered) {
      const tier = matchingTier(f.schedule, categories, slot, residence);
      if (!tier) continue;
      if (f.home_point_only && !atHomePoint) { problem = problem || "other_meal_point"; continue; }
      if (f.week_cap !== null && f.week_cap !== undefined && f.used_this_week >= f.week_cap) { problem = problem || "weekly_limit_reached"; continue; }
      if (f.month_cap !== null && f.month_cap !== undefined && f.used_this_month >= f.month_cap) { problem = problem || "monthly_limit_reached"; continue; }
      if (price < (tier.min_price || 0)) continue;
      const base = "amount" in tier ? tier.amount : Math.min(Math.floor(price * tier.percent / 100), "cap" in tier ? tier.cap : price);
      const withFloor = Math.max(floor, tier.min_self_pay || 0);
      const amount = Math.max(0, Math.min(base, left - withFloor));
      if (amount === 0) continue;
      if (amount > f.budget_left) { exhausted.push(f.id); continue; }
      parts.push([f.id, amount]);
      left -= amount;
      floor = withFloor;
    }
    if (!parts.length) return [[], exhausted.length ? "budget_exhausted" : problem || "not_eligible", exhausted];
    return [parts, null, exhausted];
  }

  // --- a quote: what the scan would make, as the cached rules say -------------------------------
  const local = (iso) => {
    const f = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
    const p = Object.fromEntries(f.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
    return { day: `${p.year}-${p.month}-${p.day}`, hhmm: `${p.hour === "24" ? "00" : p.hour}:${p.minute}` };
  };
  const monday = (day) => {
    const d = new Date(day + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
    return d.toISOString().slice(0, 10);
  };

  // `item`: the queued scan; `earlier`: the quotes of scans queued before it (a diner's offline
  // meals count towards a weekly cap). Null when no quote can be made (no rules, not a diner card).
  function quote(station, item, earlier) {
    const rules = rulesFor(station);
    const card = dinerCard(item.payload);
    if (!rules || !card) return null;
    const at = local(item.scanned_at);
    const base = { diner_id: card.id, fetched_at: rules.fetched_at, known: false };
    const slot = rules.slots.find((s) => s.starts <= at.hhmm && at.hhmm < s.ends);
    if (!slot) return { ...base, reason: "outside_window" };
    const diner = rules.diners.find((d) => d.id === card.id);
    const q = { ...base, slot: slot.slot, price: slot.price, known: !!diner };
    if (diner && card.version !== diner.card_version) return { ...q, reason: "revoked_card", price: null };
    if (diner && diner.paused && at.day === rules.day) return { ...q, reason: "diner_paused", price: null };
    if (diner && at.day === rules.day && diner.served_today.includes(slot.slot)) return { ...q, reason: "already_served", subsidy: 0, paid: slot.price, split: [] };
    const sameWeek = monday(at.day) === monday(rules.day);
    const sameMonth = at.day.slice(0, 7) === rules.day.slice(0, 7);
    const offlineHere = (a) => earlier.filter((e) => e.diner_id === card.id && (e.split || []).some((s) => s.agreement_id === a.id)).length;
    const fundings = rules.agreements.map((a) => ({
      ...a,
      used_this_week: (sameWeek && diner ? diner.week_used[String(a.id)] || 0 : 0) + offlineHere(a),
      used_this_month: (sameMonth && diner ? (diner.month_used || {})[String(a.id)] || 0 : 0) + offlineHere(a),
    }));
    const [parts, problem] = split(slot.price, new Set(diner ? diner.categories : []), slot.slot, !!diner, fundings, diner ? diner.residence : null);
    if (problem) return { ...q, reason: problem, subsidy: 0, paid: slot.price, split: [] };
    const names = Object.fromEntries(rules.agreements.map((a) => [a.id, a.funder]));
    const subsidy = parts.reduce((n, [, amount]) => n + amount, 0);
    return { ...q, subsidy, paid: slot.price - subsidy, split: parts.map(([id, amount]) => ({ agreement_id: id, funder: names[id], amount })) };
  }

  // --- quotes kept until the upload's answers come, then the answers beside them ----------------
  function keepQuote(scanId, q) {
    const all = read(QUOTES, {});
    all[scanId] = q;
    write(QUOTES, all);
  }
  const quotes = () => read(QUOTES, {});

  // one line per uploaded scan: the quote, and what the server decided (today's only are kept)
  function settle(results, today) {
    const all = quotes();
    const synced = read(SYNCED, []).filter((s) => s.day === today);
    const seen = new Set(synced.map((s) => s.scan_id));
    for (const a of results) {
      if (seen.has(a.scan_id)) continue;  // an upload answered twice (a retry): listed once
      const q = all[a.scan_id];
      delete all[a.scan_id];
      const meal = a.outcome === "meal_served" ? a.meal : null;
      synced.unshift({
        day: today,
        scan_id: a.scan_id,
        scanned_at: a.scanned_at,
        name: (a.diner && a.diner.name) || (a.volunteer && a.volunteer.name) || "",
        outcome: a.outcome,
        reason: a.reason,
        held: !!a.held,
        quoted: q && q.paid !== undefined ? q.paid : null,
        paid: meal ? meal.paid : null,
        price: meal ? meal.price : a.price || null,
      });
    }
    write(QUOTES, all);
    write(SYNCED, synced.slice(0, 200));
    return synced;
  }
  const synced = (today) => read(SYNCED, []).filter((s) => s.day === today);

  return { saveRules, rulesFor, dinerCard, split, quote, keepQuote, quotes, settle, synced };
})();
