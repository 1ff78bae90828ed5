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

/** The public shared link the page shows (`/share/<token>`), if any: `{token, unlock}`. */
let shared = null;

/**
 * Sends the stats queries through the shared link `token` (`/api/v1/share/<token>/…`)
 * instead of a session, with `unlock` (a password-protected link's unlock token) as
 * `X-Tally-Share-Unlock`.
 */
export function useSharedLink(token, unlock) {
  shared = { token, unlock };
}

/** A stats query path, through the shared link when the page shows one. */
const queryPath = (path) => (shared ? path.replace("/api/v1/", `/api/v1/share/${shared.token}/`) : path);

async function request(method, path, body, signal) {
  const init = { method, signal, credentials: "same-origin", headers: {} };
  if (shared?.unlock) init.headers["X-Tally-Share-Unlock"] = shared.unlock;
  // Every call that changes something is declared JSON, with a body or not: the
  // gateway refuses others (its CSRF check), since other pages may send those.
  if (method !== "GET") init.headers["Content-Type"] = "application/json";
  if (body !== undefined) init.body = JSON.stringify(body);
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

/** Queries asked in the current turn of the event loop, sent together by `flushQueries`. */
let queued = null;

/**
 * One stats query (tally.query's JSON) → its JSON answer. The queries the panels ask
 * in the same turn of the event loop (a page render, a filter change) go out as one
 * `POST /api/v1/query/batch`: the extension scans a site's range once for all of them
 * where it would scan it once per panel. Each caller still gets its own answer or its
 * own error (a bad query fails its panel only) and may abort with `signal`. A query
 * asked alone goes to `POST /api/v1/query`.
 */
export function query(body, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    if (!queued) {
      queued = [];
      setTimeout(flushQueries, 0);
    }
    queued.push({ body, signal, resolve, reject });
  });
}

async function flushQueries() {
  const asked = [];
  for (const q of queued) {
    if (q.signal?.aborted) q.reject(q.signal.reason);
    else asked.push(q);
  }
  queued = null;
  if (asked.length === 0) return;
  if (asked.length === 1) {
    const [{ body, signal, resolve, reject }] = asked;
    request("POST", queryPath("/api/v1/query"), body, signal).then((resp) => resp.json()).then(resolve, reject);
    return;
  }
  // The request is aborted only once every panel waiting on it gave up; one that gives
  // up alone is answered with its abort at once.
  const controller = new AbortController();
  let waiting = asked.length;
  for (const q of asked) {
    q.signal?.addEventListener("abort", () => {
      q.reject(q.signal.reason);
      if (--waiting === 0) controller.abort();
    });
  }
  try {
    const resp = await request("POST", queryPath("/api/v1/query/batch"), { queries: asked.map((q) => q.body) }, controller.signal);
    const { results } = await resp.json();
    // Each answer is handed over in a task of its own: the panels then draw one per
    // task, and the page answers input between them, where drawing them all in one task
    // would hold the main thread for as long as all of them take.
    asked.forEach((q, i) => {
      const r = results[i];
      setTimeout(() => (r.error ? q.reject(new ApiError(400, r.error.message, r.error.field)) : q.resolve(r)), 0);
    });
  } catch (err) {
    for (const q of asked) q.reject(err);
  }
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
 * `POST /api/v1/reports/pdf` `{site_id, date_range, filters, comparison}`: the view as a
 * PDF report. Resolves to the file's name and its contents as a Blob.
 */
export async function exportPdf(view) {
  const resp = await request("POST", "/api/v1/reports/pdf", view);
  const name = /filename="([^"]+)"/.exec(resp.headers.get("Content-Disposition") || "")?.[1] || "tally-report.pdf";
  return { name, blob: await resp.blob() };
}

/**
 * `GET /api/v1/auth/session`: the signed-in user and the sites they may see, `{user:
 * {id, email, name, admin}, sites: [{id, domain, timezone, role}]}`. Throws
 * Unauthorized without a session (the gateway answers `user: null`, not a 401, so the
 * login page loads without a failed request).
 */
export async function session() {
  const answer = await (await request("GET", "/api/v1/auth/session")).json();
  if (!answer.user) throw new Unauthorized();
  return answer;
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

// The admin pages: alert rules, sites, users and keys. Each is one JSON call; a refused
// one throws ApiError (with `field` for a 400), shown by the page next to the input.

async function json(method, path, body) {
  const resp = await request(method, path, body);
  return resp.status === 204 ? null : resp.json();
}

const site = (domain) => `site=${encodeURIComponent(domain)}`;

/** `GET /api/v1/alerts/rules?site=`: the site's rules (sql/ALERTS.md's JSON + id, state). */
export const alertRules = async (domain) => (await json("GET", `/api/v1/alerts/rules?${site(domain)}`)).rules;
/** `POST /api/v1/alerts/rules?site=`: a new rule → the rule as stored. */
export const createAlertRule = (domain, rule) => json("POST", `/api/v1/alerts/rules?${site(domain)}`, rule);
/** `PUT /api/v1/alerts/rules/{id}`: replaces a rule. */
export const updateAlertRule = (id, rule) => json("PUT", `/api/v1/alerts/rules/${id}`, rule);
/** `DELETE /api/v1/alerts/rules/{id}`. */
export const deleteAlertRule = (id) => json("DELETE", `/api/v1/alerts/rules/${id}`);
/** `POST /api/v1/alerts/rules/{id}/mute`: `until` an ISO time, or null to unmute. */
export const muteAlertRule = (id, until) => json("POST", `/api/v1/alerts/rules/${id}/mute`, { until });
/** `POST /api/v1/alerts/rules/{id}/test`: `[{channel, ok, error}]`, one per channel. */
export const testAlertRule = async (id) => (await json("POST", `/api/v1/alerts/rules/${id}/test`)).results;
/** `GET /api/v1/alerts/history?site=`: firings and resolutions, newest first. */
export const alertHistory = async (domain) => (await json("GET", `/api/v1/alerts/history?${site(domain)}&limit=50`)).history;

/** `GET /api/v1/sites`: the sites the caller may see, with their role. */
export const sites = async () => (await json("GET", "/api/v1/sites")).sites;
/** `POST /api/v1/sites` `{domain, timezone}` (administrators). */
export const createSite = (domain, timezone) => json("POST", "/api/v1/sites", { domain, timezone });
/** `GET /api/v1/sites/{id}/ingest-keys`: active keys (never the keys themselves). */
export const ingestKeys = async (siteId) => (await json("GET", `/api/v1/sites/${siteId}/ingest-keys`)).ingest_keys;
/** `POST /api/v1/sites/{id}/ingest-keys` → `{id, key}`: the key is shown only now. */
export const createIngestKey = (siteId) => json("POST", `/api/v1/sites/${siteId}/ingest-keys`);
/** `DELETE /api/v1/sites/{id}/ingest-keys/{key}`. */
export const revokeIngestKey = (siteId, keyId) => json("DELETE", `/api/v1/sites/${siteId}/ingest-keys/${keyId}`);

/** `GET /api/v1/users`: every user with `sites: [{site_id, role}]`. */
export const users = async () => (await json("GET", "/api/v1/users")).users;
/** `POST /api/v1/users` `{email, name, password, admin}`. */
export const createUser = (user) => json("POST", "/api/v1/users", user);
/** `PUT /api/v1/sites/{site}/members/{user}` `{role}`: adds or changes a membership. */
export const setMembership = (siteId, userId, role) => json("PUT", `/api/v1/sites/${siteId}/members/${userId}`, { role });
/** `DELETE /api/v1/sites/{site}/members/{user}`. */
export const removeMembership = (siteId, userId) => json("DELETE", `/api/v1/sites/${siteId}/members/${userId}`);

/** `GET /api/v1/keys`: the caller's active API keys. */
export const apiKeys = async () => (await json("GET", "/api/v1/keys")).keys;
/** `POST /api/v1/keys` `{name, site_id?}` → `{id, key}`: the key is shown only now. */
export const createApiKey = (name, siteId) => json("POST", "/api/v1/keys", { name, site_id: siteId });
/** `DELETE /api/v1/keys/{id}`. */
export const revokeApiKey = (id) => json("DELETE", `/api/v1/keys/${id}`);

// A site's goals, funnels, saved segments and property keys: addressed by the site's id.

/** The id of the site `domain` (from `GET /api/v1/sites`, asked once per page load). */
let siteIds = null;
export async function siteId(domain) {
  siteIds ??= sites().then((list) => new Map(list.map((s) => [s.domain, s.id])));
  const ids = await siteIds;
  if (!ids.has(domain)) siteIds = null;
  return ids.get(domain);
}
const ofSite = async (domain, what) => `/api/v1/sites/${await siteId(domain)}/${what}`;

/** `GET /api/v1/sites/{id}/goals`: `[{name, event_name, page_pattern, currency}]`. */
export const goals = async (domain) => (await json("GET", await ofSite(domain, "goals"))).goals;
/** `POST /api/v1/sites/{id}/goals`, or `PUT .../goals/{name}` when replacing `name`. */
export const saveGoal = async (domain, name, goal) =>
  name ? json("PUT", await ofSite(domain, `goals/${encodeURIComponent(name)}`), goal) : json("POST", await ofSite(domain, "goals"), goal);
/** `DELETE /api/v1/sites/{id}/goals/{name}`. */
export const deleteGoal = async (domain, name) => json("DELETE", await ofSite(domain, `goals/${encodeURIComponent(name)}`));
/** `GET /api/v1/sites/{id}/funnels`: `[{name, steps}]`. */
export const funnels = async (domain) => (await json("GET", await ofSite(domain, "funnels"))).funnels;
/** `POST /api/v1/sites/{id}/funnels`, or `PUT .../funnels/{name}` when replacing `name`. */
export const saveFunnel = async (domain, name, funnel) =>
  name ? json("PUT", await ofSite(domain, `funnels/${encodeURIComponent(name)}`), funnel) : json("POST", await ofSite(domain, "funnels"), funnel);
/** `DELETE /api/v1/sites/{id}/funnels/{name}`. */
export const deleteFunnel = async (domain, name) => json("DELETE", await ofSite(domain, `funnels/${encodeURIComponent(name)}`));
/** `GET /api/v1/sites/{id}/segments`: `[{id, name, filters, shared, mine}]`. */
export const segments = async (domain) => (await json("GET", await ofSite(domain, "segments"))).segments;
/** `POST /api/v1/sites/{id}/segments` `{name, filters, shared}`. */
export const createSegment = async (domain, segment) => json("POST", await ofSite(domain, "segments"), segment);
/** `DELETE /api/v1/sites/{id}/segments/{segment_id}`. */
export const deleteSegment = async (domain, id) => json("DELETE", await ofSite(domain, `segments/${id}`));
/** `GET /api/v1/sites/{id}/property-keys`: the custom property keys sent lately. */
export const propertyKeys = async (domain) => (await json("GET", await ofSite(domain, "property-keys"))).keys;

/** `GET /api/v1/share/{token}`: `{site, timezone, name, panels, protected, unlocked}`. */
export const sharedLink = (token) => json("GET", `/api/v1/share/${token}`);
/** `POST /api/v1/share/{token}/unlock` `{password}` → the unlock token. */
export const unlockSharedLink = async (token, password) => (await json("POST", `/api/v1/share/${token}/unlock`, { password })).unlock;
/** `GET /api/v1/sites/{id}/share-links`: the site's active links (admins of the site). */
export const shareLinks = async (siteId) => (await json("GET", `/api/v1/sites/${siteId}/share-links`)).share_links;
/** `POST /api/v1/sites/{id}/share-links` `{name, password, panels, embed, embed_origins}` → with `path`, shown once. */
export const createShareLink = (siteId, link) => json("POST", `/api/v1/sites/${siteId}/share-links`, link);
/** `DELETE /api/v1/sites/{id}/share-links/{link}`: revokes it for good. */
export const revokeShareLink = (siteId, linkId) => json("DELETE", `/api/v1/sites/${siteId}/share-links/${linkId}`);

/** `GET /api/v1/reports/schedules`: the caller's scheduled email reports. */
export const reportSchedules = async () => (await json("GET", "/api/v1/reports/schedules")).schedules;
/** `POST /api/v1/reports/schedules` `{site_id, frequency, timezone, hour}`. */
export const createReportSchedule = (schedule) => json("POST", "/api/v1/reports/schedules", schedule);
/** `DELETE /api/v1/reports/schedules/{id}`. */
export const deleteReportSchedule = (id) => json("DELETE", `/api/v1/reports/schedules/${id}`);
