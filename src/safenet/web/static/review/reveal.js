// The reveal dialog: a modal <dialog> that names the item, offers the graded steps, and closes itself at
// the time the server gave (and on any navigation), telling the server why it closed (audited there).
import { get, post } from "./api.js";

export const STEPS = ["large-blurred", "grey", "colour"];
const STEP_NAMES = { "large-blurred": "larger, still blurred", grey: "clear, greyscale", colour: "clear, colour" };

export class RevealDialog {
  constructor(say) {
    this.say = say;
    this.dialog = document.getElementById("reveal");
    this.image = document.getElementById("reveal-image");
    this.title = document.getElementById("reveal-title");
    this.until = document.getElementById("reveal-until");
    this.strip = document.getElementById("frame-strip");
    this.nextButton = document.getElementById("reveal-next-step");
    this.card = null; // the card whose item is shown
    this.step = null;
    this.frame = null;
    this.seen = new Set(); // frames of this item shown in this dialog: what a grade from here rests on
    this.timer = null;
    this.onClosed = null;
    document.getElementById("reveal-close").addEventListener("click", () => this.close("closed"));
    this.nextButton.addEventListener("click", () => this.nextStep());
    // Esc on a modal dialog fires "cancel": close it our way, so the closing is recorded.
    this.dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      this.close("closed");
    });
  }

  get isOpen() {
    return this.dialog.open;
  }

  label(card) {
    return card.dataset.label;
  }

  // Reveal ``card``'s item at ``step`` (the first step unless given), optionally one frame of a video/GIF.
  async open(card, step, frame) {
    const itemId = card.dataset.item;
    step = step || STEPS[0];
    frame = frame === undefined ? null : frame;
    let data;
    try {
      data = await post("/api/items/" + itemId + "/reveal", { step: step, frame: frame });
    } catch (error) {
      this.say("Not revealed: " + this.label(card) + ": " + error.message, true);
      return;
    }
    if (this.isOpen && this.card !== card) await this.close("navigated");
    if (this.card !== card) this.seen = new Set();
    this.card = card;
    this.step = data.step || step;
    this.frame = data.frame === undefined ? frame : data.frame;
    if (this.frame !== null && this.frame !== undefined) this.seen.add(this.frame);
    const name = data.label || this.label(card);
    this.title.textContent = "Revealed: " + name + " (" + (STEP_NAMES[this.step] || this.step) + ")";
    this.image.alt = "revealed picture of " + name + ", " + (STEP_NAMES[this.step] || this.step);
    this.image.src = data.url;
    // The server's own count (its clock may differ from this one); 60 s, the server's default, if absent.
    const seconds = Number.isFinite(data.seconds) ? data.seconds : 60;
    this.until.textContent = "Closes by itself in " + seconds + " s. Grade keys grade this item.";
    const last = STEPS.indexOf(this.step) === STEPS.length - 1;
    this.nextButton.disabled = last;
    this.nextButton.textContent = last ? "Last step shown" : "Next step: " + STEP_NAMES[STEPS[STEPS.indexOf(this.step) + 1]] + " (R)";
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.close("expired"), Math.max(0, seconds) * 1000);
    if (!this.isOpen) this.dialog.showModal();
    if (card.dataset.frames === "yes") this.loadFrames(card);
    else this.strip.hidden = true;
    this.say("Revealed " + name + " at step " + (STEP_NAMES[this.step] || this.step) + " (recorded). Esc closes it.");
  }

  // The frames of a video or GIF shown in this dialog, in order (null for a still picture or none shown).
  framesShown() {
    if (!this.card || this.card.dataset.frames !== "yes" || !this.seen.size) return null;
    return Array.from(this.seen).sort((a, b) => a - b);
  }

  async nextStep() {
    if (!this.card) return;
    const index = STEPS.indexOf(this.step);
    if (index < STEPS.length - 1) await this.open(this.card, STEPS[index + 1], this.frame);
  }

  async loadFrames(card) {
    this.strip.replaceChildren();
    let data;
    try {
      data = await get("/api/items/" + card.dataset.item + "/frames");
    } catch (error) {
      this.strip.hidden = true;
      return;
    }
    data.frames.forEach((frame) => {
      const entry = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      const thumb = document.createElement("img");
      thumb.src = "/media/frame/" + card.dataset.item + "/" + frame.index;
      thumb.alt = "blurred frame " + frame.index + " at " + frame.time_s + " s";
      button.append(thumb);
      button.setAttribute("aria-pressed", String(frame.index === this.frame));
      button.addEventListener("click", () => this.open(card, this.step, frame.index));
      entry.append(button);
      this.strip.append(entry);
    });
    this.strip.hidden = !data.frames.length;
  }

  // Close and tell the server why (closed, expired, navigated). Safe to call when already closed.
  async close(reason, options) {
    clearTimeout(this.timer);
    if (!this.isOpen) return;
    const card = this.card;
    this.dialog.close();
    this.image.removeAttribute("src");
    this.strip.replaceChildren();
    this.card = null;
    this.seen = new Set();
    if (this.onClosed) this.onClosed(card, reason);
    try {
      await post("/api/items/" + card.dataset.item + "/reveal/close", { reason: reason }, options);
    } catch (error) {
      // The server ends the reveal at its expiry anyway; say so rather than fail silently.
      this.say("The reveal of " + this.label(card) + " was hidden; the server did not record the closing: " + error.message, true);
    }
  }
}
