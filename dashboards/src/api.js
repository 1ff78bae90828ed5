// Every request the dashboard makes goes through this module: the stats query, CSV
// exports, the realtime stream and the session (login, logout, who am I). Panels never
// call fetch themselves, so authentication (the session cookie, a 401 leading to the
// login page) and error shapes are handled here and nowhere else.

/** An answer the gateway refused; `field` names the request field at fault (400s). */
export class ApiError extends Error {
  constructor(status, message, field) {
    super(field ? `${message} (${field})` : message);
    this.status = status;
    this.field = field;
  }
}

/** Thrown (and announced with `onUnauthorized`) when the gateway wants a login. */
export class Unauthorized extends ApiError {
  constructor() {
    super(401, "please log in");
  }
}

let unauthorizedHandler = () => {};

/** Registers what to do when any call answers 401: the app shows the login page. */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

async function failure(resp) {
  if (resp.status === 401) {
    unauthorizedHandler();
    return new Unauthorized();
  }
  let body = {};
  try {
    body = await resp.json();
  } catch {
    // Not JSON (a proxy's error page): the status text has to do.
  }
  return new ApiError(resp.status, body.error || `${resp.status} ${resp.statusText}`, body.field);
}

async function request(method, path, body, signal) {
  const init = { method, signal, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, `the gateway is unreachable (${err.message})`);
  }
  if (!resp.ok) throw await failure(resp);
  return resp;
}

/** `POST /api/v1/query`: one stats query (tally.query's JSON) → its JSON answer. */
export async function query(body, signal) {
  return (await request("POST", "/api/v1/query", body, signal)).json();
}

/**
 * `POST /api/v1/export`: the same query answered as CSV. Resolves to the file's name
 * (from Content-Disposition) and its contents as a Blob.
 */
export async function exportCsv(body) {
  const resp = await request("POST", "/api/v1/export", body);
  const disposition = resp.headers.get("Content-Disposition") || "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] || "tally-export.csv";
  return { name, blob: await resp.blob() };
}

/**
 * `GET /api/v1/auth/me`: the signed-in user and the sites they may see, `{user:
 * {id, email, name, admin}, sites: [{id, domain, timezone, role}]}`. Throws
 * Unauthorized without a session.
 */
export async function session() {
  return (await request("GET", "/api/v1/auth/me")).json();
}

/** `POST /api/v1/auth/login`; on success the gateway sets the session cookie. */
export async function login(email, password) {
  return (await request("POST", "/api/v1/auth/login", { email, password })).json();
}

/** `POST /api/v1/auth/logout`: ends the session (the cookie is cleared). */
export async function logout() {
  await request("POST", "/api/v1/auth/logout");
}

/**
 * `GET /api/v1/realtime?site=`: server-sent events with the visitors of the last five
 * minutes. Calls `onVisitors(n)` on each update and `onError(message)` when the
 * stream fails (EventSource reconnects by itself). Returns a function that closes it.
 */
export function realtime(site, onVisitors, onError) {
  const source = new EventSource(`/api/v1/realtime?site=${encodeURIComponent(site)}`);
  source.addEventListener("visitors", (e) => onVisitors(JSON.parse(e.data).visitors));
  source.addEventListener("error", () => onError("realtime updates interrupted, reconnecting…"));
  return () => source.close();
}
