// Requests sent one at a time, in the order the keys were pressed, whatever the server's latency.
//
// Why a queue: each grade key acts on the item focused when it was pressed (the display moves on at once),
// and the server must receive the grades in that order, so a later key can never overtake an earlier one
// (an undo must follow the grade it undoes). A failed job is reported by its own callback, never dropped.
export class RequestQueue {
  constructor(onIdle) {
    this.jobs = [];
    this.running = false;
    this.onIdle = onIdle;
    this.idleWaiters = [];
  }

  get pending() {
    return this.jobs.length + (this.running ? 1 : 0);
  }

  // job: an async function; its own try/catch reports failures. Returns at once.
  push(job) {
    this.jobs.push(job);
    if (!this.running) this.run();
  }

  whenIdle() {
    if (!this.pending) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async run() {
    this.running = true;
    while (this.jobs.length) {
      const job = this.jobs.shift();
      try {
        await job();
      } catch (error) {
        console.error("review request failed", error); // jobs report their own failures; this is a bug guard
      }
    }
    this.running = false;
    if (this.onIdle) this.onIdle();
    this.idleWaiters.splice(0).forEach((resolve) => resolve());
  }
}
