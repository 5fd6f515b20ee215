// Calls to the review server: JSON in and out, the CSRF token on every write. No framework, no build step.
const csrf = document.querySelector('meta[name="csrf-token"]').content;

export class ApiError extends Error {
  constructor(status, data) {
    super(data.detail || "refused (" + status + ")");
    this.status = status;
    this.data = data;
  }
}

export async function post(url, body, options) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body || {}),
    keepalive: Boolean(options && options.keepalive),
  });
  return answer(response);
}

export async function get(url) {
  return answer(await fetch(url, { credentials: "same-origin" }));
}

async function answer(response) {
  if (response.status === 401) {
    window.location.assign("/login");
    throw new ApiError(401, { detail: "your session ended; log in again" });
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}
