// Keyboard grading for the review grid. No framework, no build step (ES modules); the server checks everything.
//
// Rules the court relies on (each has a browser test):
//  - a grade key acts on the item focused when it was pressed (or the selection, when the focused item is
//    in it; or the revealed item while the reveal dialog is open); the display moves on at once and the
//    requests go to the server one at a time in key order (RequestQueue); a refused grade marks its card;
//  - a selection is dropped when focus moves off it, and after every grade or confirmation;
//  - a cluster grade (Shift + letter) only works in the cluster view and names the members shown there;
//    replacing another grade needs an explicit yes; every grade can be undone (Ctrl+Z or Z).
import { get, post } from "./review/api.js";
import { RequestQueue } from "./review/queue.js";
import { RevealDialog } from "./review/reveal.js";

const grid = document.getElementById("grid");
if (grid) start();

function start() {
  const cards = Array.from(grid.querySelectorAll(".card"));
  const message = document.getElementById("message");
  // P and O: other material (prohibited non-photographic images, extreme pornography), counted apart from A/B/C
  const GRADES = { a: "A", b: "B", c: "C", n: "non-indecent", u: "uncertain", p: "prohibited", o: "extreme" };
  const clusterView = grid.dataset.clusterView;
  const undoStack = []; // [{rows: [{item_id, row_id}]}], newest last
  let current = 0;
  let anchor = null; // where a Shift+arrow range starts

  function say(text, bad) {
    message.textContent = text;
    message.className = bad ? "message error" : "message";
  }

  const queue = new RequestQueue(refreshCounts);
  const reveal = new RevealDialog(say);
  reveal.onClosed = (card) => {
    if (card && document.contains(card)) card.focus();
  };

  const label = (card) => card.dataset.label;
  const cardOf = (itemId) => grid.querySelector('.card[data-item="' + itemId + '"]');
  const selected = () => cards.filter((card) => card.classList.contains("selected"));

  function names(list) {
    if (list.length === 1) return label(list[0]);
    const shown = list.slice(0, 8).map(label).join(", ");
    return list.length + " items: " + shown + (list.length > 8 ? " and " + (list.length - 8) + " more" : "");
  }

  // -- focus and selection ------------------------------------------------------------------------
  function setSelected(card, on) {
    card.classList.toggle("selected", on);
    card.setAttribute("aria-selected", String(on));
  }

  function clearSelection() {
    selected().forEach((card) => setSelected(card, false));
    anchor = null;
  }

  function focusCard(index, how) {
    if (!cards.length) return;
    const mode = how || "move";
    const next = Math.max(0, Math.min(cards.length - 1, index));
    if (mode === "extend") {
      if (anchor === null) anchor = current;
      const [lo, hi] = anchor < next ? [anchor, next] : [next, anchor];
      cards.forEach((card, i) => setSelected(card, i >= lo && i <= hi));
    } else if (mode === "move" && !cards[next].classList.contains("selected")) {
      clearSelection(); // a selection must never capture a grade meant for the item the grader is now on
    }
    cards[current].tabIndex = -1;
    current = next;
    cards[current].tabIndex = 0;
    cards[current].focus();
  }

  function columns() {
    const top = cards[0].offsetTop;
    const n = cards.findIndex((card) => card.offsetTop !== top);
    return n === -1 ? cards.length : n;
  }

  // What a grade or confirm key acts on, decided when the key is pressed.
  function targets() {
    if (reveal.isOpen) return [reveal.card];
    const focused = cards[current];
    return focused.classList.contains("selected") ? selected() : [focused];
  }

  // -- showing grades -----------------------------------------------------------------------------
  function setGrade(card, grade, confirmedBy) {
    const text = card.querySelector(".grade");
    text.textContent = grade ? grade + (confirmedBy ? " (confirmed by " + confirmedBy + ")" : "") : "ungraded";
    text.dataset.grade = grade || "";
    card.dataset.grade = grade || "";
    card.classList.toggle("graded", Boolean(grade));
    // A trusted hash-set grade stands over an examiner's different grade (the reports count it): say both.
    const trusted = card.dataset.trusted;
    const disagree = card.querySelector(".disagree");
    if (trusted && disagree) {
      disagree.textContent = grade && grade !== trusted
        ? "trusted grade " + trusted + " stands; the examiner graded " + grade + " (disagrees)"
        : "";
    }
  }

  function setState(card, state, text) {
    card.classList.remove("pending", "failed");
    if (state) card.classList.add(state);
    card.querySelector(".state").textContent = text || "";
  }

  // -- grading ------------------------------------------------------------------------------------
  function grade(value, wholeCluster) {
    let list;
    let body;
    if (wholeCluster) {
      if (!clusterView) {
        const cluster = cards[current].dataset.cluster;
        return say(
          cluster
            ? "A cluster is graded in its cluster view, where every member is shown: press E to open cluster " + cluster + "."
            : label(cards[current]) + " is not in a near-duplicate cluster.",
          true,
        );
      }
      list = cards.filter((card) => !card.classList.contains("left-cluster"));
      body = { grade: value, cluster_id: Number(clusterView), item_ids: list.map((c) => Number(c.dataset.item)) };
    } else {
      list = targets();
      body = { grade: value, item_ids: list.map((c) => Number(c.dataset.item)) };
      // a video or GIF graded from its reveal: the grade names the frames the grader was shown
      const frames = reveal.isOpen ? reveal.framesShown() : null;
      if (frames) body.frames = frames;
    }
    const before = new Map(list.map((card) => [card, { grade: card.dataset.grade, text: card.querySelector(".grade").textContent }]));
    list.forEach((card) => {
      setGrade(card, value);
      setState(card, "pending", "saving…");
    });
    const fromReveal = reveal.isOpen;
    const last = cards.indexOf(list[list.length - 1]);
    clearSelection();
    if (fromReveal) reveal.close("navigated");
    if (!wholeCluster) focusCard(Math.max(current, last) + 1);
    else focusCard(current);
    queue.push(() => sendGrade(body, list, before));
  }

  async function sendGrade(body, list, before) {
    let data;
    try {
      data = await post("/api/grade", body);
    } catch (error) {
      if (error.status === 409 && error.data.conflicts) {
        const conflicts = error.data.conflicts.map((c) => label(cardOf(c.item_id)) + " is " + c.grade + " (" + c.examiner + ")");
        const question = "Grade " + names(list) + " " + body.grade + "?\n\nThis replaces other grades:\n" + conflicts.join("\n");
        if (window.confirm(question)) return sendGrade({ ...body, overwrite: true }, list, before);
        list.forEach((card) => restore(card, before.get(card), ""));
        return say("Nothing graded: you kept the existing grades of " + names(list) + ".");
      }
      list.forEach((card) => restore(card, before.get(card), "not graded: " + error.message, "failed"));
      return say("Not graded: " + names(list) + ": " + error.message, true);
    }
    const done = data.graded.map((record) => {
      const card = cardOf(record.item_id);
      if (card) {
        setGrade(card, record.grade, record.confirmed_by);
        setState(card, null, "");
      }
      return card;
    }).filter(Boolean);
    undoStack.push({ rows: data.graded.map((r) => ({ item_id: r.item_id, row_id: r.row_id })) });
    const on = body.frames ? " on frames " + body.frames.join(", ") : "";
    say("Graded " + names(done) + " " + body.grade + on + ".");
    if (data.break_due) document.getElementById("break").hidden = false;
  }

  function restore(card, was, text, state) {
    setGrade(card, was.grade);
    card.querySelector(".grade").textContent = was.text; // keeps "(confirmed by …)"
    setState(card, state || null, text);
  }

  function undo() {
    queue.push(async () => {
      const entry = undoStack.pop();
      if (!entry) return say("Nothing of yours to undo on this page.", true);
      const list = entry.rows.map((r) => cardOf(r.item_id)).filter(Boolean);
      try {
        const data = await post("/api/undo", { row_ids: entry.rows.map((r) => r.row_id) });
        data.undone.forEach((u) => {
          const card = cardOf(u.item_id);
          if (card) {
            setGrade(card, u.grade, u.confirmed_by);
            setState(card, null, "");
          }
        });
        const back = data.undone.map((u) => (u.grade || "ungraded"));
        say("Undone: " + names(list) + " back to " + Array.from(new Set(back)).join(", ") + ".");
      } catch (error) {
        say("Not undone: " + names(list) + ": " + error.message, true);
      }
    });
  }

  function confirmGrades() {
    const list = targets();
    clearSelection(); // a refused confirmation must not leave a selection to capture the next key
    queue.push(async () => {
      try {
        const data = await post("/api/confirm", { item_ids: list.map((c) => Number(c.dataset.item)) });
        const done = data.confirmed.map((record) => {
          const card = cardOf(record.item_id);
          if (card) setGrade(card, record.grade, record.confirmed_by);
          return card;
        }).filter(Boolean);
        const refused = data.refused.map((r) => r.reason);
        say("Confirmed " + (done.length ? names(done) : "nothing") + "." + (refused.length ? " Refused: " + refused.join("; ") : ""), refused.length > 0);
      } catch (error) {
        say("Not confirmed: " + names(list) + ": " + error.message, true);
      }
    });
  }

  // -- cluster edits (the cluster view) -----------------------------------------------------------
  function takeOut() {
    if (!clusterView) return say("Items are taken out of a cluster in its cluster view: press E to open it.", true);
    const list = targets().filter((card) => !card.classList.contains("left-cluster"));
    clearSelection();
    if (!list.length) return say("Those items were already taken out of this cluster.", true);
    queue.push(async () => {
      try {
        await post("/api/clusters/split", { item_ids: list.map((c) => Number(c.dataset.item)) });
        list.forEach((card) => {
          card.classList.add("left-cluster");
          card.dataset.cluster = "";
          setState(card, null, "taken out of cluster " + clusterView);
        });
        say("Took " + names(list) + " out of cluster " + clusterView + " (recorded).");
      } catch (error) {
        say("Not taken out: " + names(list) + ": " + error.message, true);
      }
    });
  }

  const mergeForm = document.getElementById("merge-form");
  if (mergeForm) {
    mergeForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const other = Number(document.getElementById("merge-other").value);
      queue.push(async () => {
        try {
          await post("/api/clusters/merge", { cluster_id: Number(clusterView), other_cluster_id: other });
          say("Merged cluster " + other + " into cluster " + clusterView + " (recorded); showing every member.");
          navigate(window.location.href);
        } catch (error) {
          say("Not merged: cluster " + other + ": " + error.message, true);
        }
      });
    });
  }

  // -- counts, pages, clusters, details -----------------------------------------------------------
  async function refreshCounts() {
    try {
      const counts = await get("/api/counts");
      document.querySelectorAll("[data-count]").forEach((el) => { el.textContent = counts[el.dataset.count]; });
      document.getElementById("to-grade").textContent = counts.to_grade;
      document.getElementById("count-total").textContent = counts.total;
      const progress = document.getElementById("progress");
      progress.max = counts.total;
      progress.value = counts.total - counts.to_grade;
    } catch (error) {
      // counts are a convenience; the grades themselves were reported above
    }
  }

  // Leave the page only once every grade is stored and any reveal is closed (and recorded as such).
  async function navigate(url) {
    if (!url) return;
    say("Saving before leaving…");
    await queue.whenIdle();
    await reveal.close("navigated");
    window.location.assign(url);
  }

  function nextUngraded() {
    for (let i = current + 1; i < cards.length; i++) {
      if (!cards[i].dataset.grade && cards[i].dataset.needsGrade === "yes") return focusCard(i);
    }
    say("No ungraded item after this one on this page; ] goes to the next page.");
  }

  function toggleCluster() {
    if (clusterView) return navigate("/review");
    const cluster = cards.length ? cards[current].dataset.cluster : "";
    if (!cluster) return say(label(cards[current]) + " is not in a near-duplicate cluster.", true);
    navigate("/review?cluster=" + encodeURIComponent(cluster));
  }

  let detailCard = null; // the card the side panel describes

  async function showDetail(card) {
    const panel = document.getElementById("detail");
    const list = document.getElementById("detail-list");
    try {
      const data = await get("/api/items/" + card.dataset.item + "/detail");
      list.replaceChildren();
      Object.entries(data).forEach(([key, value]) => {
        const term = document.createElement("dt");
        term.textContent = key.replaceAll("_", " ");
        const text = document.createElement("dd");
        text.textContent = typeof value === "object" && value !== null ? JSON.stringify(value, null, 1) : String(value);
        list.append(term, text);
      });
      document.getElementById("detail-title").textContent = "Details of " + label(card);
      detailCard = card;
      panel.hidden = false;
    } catch (error) {
      say("No details for " + label(card) + ": " + error.message, true);
    }
  }

  // Notes and tags from the side panel: each is audited by the server; the panel shows the result.
  function panelForm(formId, inputId, path, field) {
    const form = document.getElementById(formId);
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = document.getElementById(inputId);
      if (!detailCard) return;
      try {
        await post("/api/items/" + detailCard.dataset.item + "/" + path, { [field]: input.value });
        say("Added " + field + " to " + label(detailCard) + ".");
        input.value = "";
        showDetail(detailCard);
      } catch (error) {
        say("Not added to " + label(detailCard) + ": " + error.message, true);
      }
    });
  }
  panelForm("note-form", "note-text", "notes", "text");
  panelForm("tag-form", "tag-text", "tags", "tag");

  // -- wiring -------------------------------------------------------------------------------------
  cards.forEach((card, index) => {
    card.addEventListener("click", () => focusCard(index, "keep"));
    card.addEventListener("focus", () => {
      current = index;
    });
  });
  document.getElementById("detail-close").addEventListener("click", () => {
    document.getElementById("detail").hidden = true;
    if (cards.length) cards[current].focus();
  });
  window.addEventListener("pagehide", () => {
    if (reveal.isOpen) reveal.close("navigated", { keepalive: true });
  });
  window.addEventListener("beforeunload", (event) => {
    if (queue.pending) event.preventDefault(); // grades still on their way: ask before leaving
  });
  document.querySelectorAll(".pager a, #leave-cluster").forEach((link) => {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      navigate(link.href);
    });
  });

  const MOVES = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: "down", ArrowUp: "up" };

  document.addEventListener("keydown", (event) => {
    const tag = (event.target.tagName || "").toLowerCase();
    if (["input", "select", "textarea"].includes(tag) || event.altKey || event.metaKey) return;
    if (tag === "button" && (event.key === " " || event.key === "Enter")) return;
    if (tag === "summary" || tag === "a") {
      if (event.key === " " || event.key === "Enter") return;
    }
    const key = event.key.toLowerCase();
    if ((event.ctrlKey && key === "z") || (!event.ctrlKey && key === "z" && !event.shiftKey)) {
      if (grid.dataset.mayGrade !== "yes") return;
      event.preventDefault();
      return undo();
    }
    if (event.ctrlKey && !(event.key in MOVES)) return;
    if (!cards.length) return;
    if (reveal.isOpen) {
      // With a picture on screen, keys act on that picture's item; moving closes it.
      if (key in GRADES && grid.dataset.mayGrade === "yes" && !event.shiftKey) grade(GRADES[key], false);
      else if (key === "r") reveal.nextStep();
      else if (key === "y" && grid.dataset.mayConfirm === "yes") confirmGrades();
      else return;
      event.preventDefault();
      return;
    }
    if (event.key in MOVES) {
      const step = MOVES[event.key];
      const delta = step === "down" ? columns() : step === "up" ? -columns() : step;
      focusCard(current + delta, event.shiftKey ? "extend" : event.ctrlKey ? "keep" : "move");
    } else if (event.key === " ") {
      const card = cards[current];
      setSelected(card, !card.classList.contains("selected"));
      anchor = current;
    } else if (event.key === "PageDown" || event.key === "]") {
      const link = document.getElementById("next-page");
      if (link) navigate(link.href);
      else say("This is the last page.");
    } else if (event.key === "PageUp" || event.key === "[") {
      const link = document.getElementById("prev-page");
      if (link) navigate(link.href);
      else say("This is the first page.");
    } else if (key === "s") focusCard(current + 1);
    else if (key === "g") nextUngraded();
    else if (key === "e") toggleCluster();
    else if (key === "x" && grid.dataset.mayGrade === "yes") takeOut();
    else if (key === "i") showDetail(cards[current]);
    else if (key in GRADES && grid.dataset.mayGrade === "yes") grade(GRADES[key], event.shiftKey);
    else if (key in GRADES) say("Your role cannot grade.", true);
    else if (key === "r" && grid.dataset.mayReveal === "yes") reveal.open(cards[current]);
    else if (key === "y" && grid.dataset.mayConfirm === "yes") confirmGrades();
    else return;
    event.preventDefault();
  });

  setInterval(async () => {
    try {
      const data = await get("/api/status");
      if (data.break_due) document.getElementById("break").hidden = false;
    } catch (error) {
      // a 401 has already sent the page to the login
    }
  }, 60000);

  if (cards.length) {
    cards[0].tabIndex = 0;
    focusCard(0, "keep");
  }
}
