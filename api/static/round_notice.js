// 邻里 Linli: the public notice of a micro-grant round (公示): an objection sent without a login.
"use strict";
(() => {
  const form = document.getElementById("objection");
  if (!form) return;
  const answer = document.getElementById("objection-answer");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = form.elements.text.value.trim();
    const contact = form.elements.contact.value.trim();
    const body = contact ? { text, contact } : { text };
    try {
      await L.api("public", `/api/v1/rounds/${form.dataset.round}/objections`, { method: "POST", body });
      form.reset();
      L.say(answer, L.t.sent, "ok");
    } catch (err) {
      L.say(answer, L.problemText(err), "bad");
    }
  });
})();
