// Keyboard grading for the review grid. No framework, no build step; the server checks everything.
"use strict";
(function () {
  const grid = document.getElementById("grid");
  if (!grid) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const cards = Array.from(grid.querySelectorAll(".card"));
  const message = document.getElementById("message");
  const reveal = document.getElementById("reveal");
  const revealImage = document.getElementById("reveal-image");
  const GRADES = { a: "A", b: "B", c: "C", n: "non-indecent", u: "uncertain" };
  let current = 0;

  function say(text, bad) {
    message.textContent = text;
    message.className = bad ? "message error" : "message";
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.detail || "refused (" + response.status + ")");
    return data;
  }

  function focusCard(index) {
    if (!cards.length) return;
    current = Math.max(0, Math.min(cards.length - 1, index));
    cards[current].focus();
  }

  function columns() {
    const top = cards[0].offsetTop;
    const n = cards.findIndex((card) => card.offsetTop !== top);
    return n === -1 ? cards.length : n;
  }

  function targets() {
    const selected = cards.filter((card) => card.classList.contains("selected"));
    return selected.length ? selected : [cards[current]];
  }

  function showGrade(record) {
    const card = grid.querySelector('.card[data-item="' + record.item_id + '"]');
    if (!card) return;
    const label = card.querySelector(".grade");
    label.textContent = record.grade + (record.confirmed_by ? " (confirmed)" : "");
    label.dataset.grade = record.grade;
    card.classList.add("graded");
    card.classList.remove("selected");
  }

  async function grade(value, wholeCluster) {
    const card = cards[current];
    let body;
    if (wholeCluster) {
      if (!card.dataset.cluster) return say("This item is not in a near-duplicate cluster.", true);
      body = { grade: value, cluster_id: Number(card.dataset.cluster) };
    } else {
      body = { grade: value, item_ids: targets().map((c) => Number(c.dataset.item)) };
    }
    try {
      const data = await post("/api/grade", body);
      data.graded.forEach(showGrade);
      say("Graded " + data.graded.length + " item(s) " + value + ".");
      if (data.break_due) document.getElementById("break").hidden = false;
      focusCard(current + 1);
    } catch (error) {
      say(error.message, true);
    }
  }

  async function confirmGrades() {
    try {
      const data = await post("/api/confirm", { item_ids: targets().map((c) => Number(c.dataset.item)) });
      data.confirmed.forEach(showGrade);
      say("Confirmed " + data.confirmed.length + " grade(s)." + (data.refused.length ? " Refused: " + data.refused[0].reason : ""));
    } catch (error) {
      say(error.message, true);
    }
  }

  async function revealCurrent() {
    const card = cards[current];
    try {
      const data = await post("/api/items/" + card.dataset.item + "/reveal");
      revealImage.src = data.url;
      reveal.hidden = false;
      say("Revealed item " + data.item_id + " (recorded). Esc hides it.");
    } catch (error) {
      say(error.message, true);
    }
  }

  function hideReveal() {
    reveal.hidden = true;
    revealImage.removeAttribute("src");
  }

  document.getElementById("reveal-close").addEventListener("click", hideReveal);
  cards.forEach((card, index) => card.addEventListener("focus", () => { current = index; }));
  cards.forEach((card, index) => card.addEventListener("click", () => focusCard(index)));

  document.addEventListener("keydown", (event) => {
    const tag = (event.target.tagName || "").toLowerCase();
    if (["input", "select", "textarea", "button"].includes(tag) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") return hideReveal();
    if (!cards.length) return;
    const key = event.key.toLowerCase();
    if (event.key === "ArrowRight") focusCard(current + 1);
    else if (event.key === "ArrowLeft") focusCard(current - 1);
    else if (event.key === "ArrowDown") focusCard(current + columns());
    else if (event.key === "ArrowUp") focusCard(current - columns());
    else if (event.key === " ") cards[current].classList.toggle("selected");
    else if (key === "s") focusCard(current + 1);
    else if (key in GRADES && grid.dataset.mayGrade === "yes") grade(GRADES[key], event.shiftKey);
    else if (key in GRADES) say("Your role cannot grade.", true);
    else if (key === "r" && grid.dataset.mayReveal === "yes") revealCurrent();
    else if (key === "y" && grid.dataset.mayConfirm === "yes") confirmGrades();
    else return;
    event.preventDefault();
  });

  setInterval(async () => {
    const response = await fetch("/api/status", { credentials: "same-origin" });
    if (response.status === 401) return window.location.assign("/login");
    const data = await response.json();
    if (data.break_due) document.getElementById("break").hidden = false;
  }, 60000);

  focusCard(0);
})();
