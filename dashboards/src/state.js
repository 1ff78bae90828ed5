// The dashboard's whole state lives in the URL's query string, so a view can be
// bookmarked or shared and back/forward walk through views:
//
//   ?page=alerts&site=example.com&period=custom&from=2025-01-01&to=2025-01-31&compare=off
//    &f=is|visit:country|DE&f=is|event:page|/pricing&tab.pages=entry&metric=pageviews
//    &f=is|segment|12&prop=plan&funnel=Checkout&imports=on
//
// `page` is the view (the stats by default, or one of PAGES). Defaults are left out of
// the URL. Every change goes through `update`, which pushes a
// history entry and tells the listener; popstate tells it too.

/** Date ranges of the picker: the URL's value → tally.query's `date_range`. */
export const PERIODS = {
  today: { label: "Today", range: "day" },
  "7d": { label: "Last 7 days", range: "7d" },
  "30d": { label: "Last 30 days", range: "30d" },
  month: { label: "This month", range: "month" },
  year: { label: "This year", range: "year" },
  custom: { label: "Custom range", range: null },
  realtime: { label: "Realtime (5 min)", range: "realtime" },
};

/** The comparison modes: the URL's value → tally.query's `include.comparisons.mode`. */
export const COMPARISONS = {
  previous_period: "Previous period",
  year_over_year: "Year over year",
  off: "No comparison",
};

/** The views besides the stats: the URL's `page` → its name in the navigation. */
export const PAGES = {
  alerts: "Alerts",
  goals: "Goals",
  sites: "Sites",
  users: "Users",
  keys: "API keys",
  sharing: "Sharing",
  reports: "Email reports",
};

const DEFAULTS = { period: "30d", compare: "previous_period", metric: "visitors" };

/** Parses a location's query string into the state object. */
export function parse(search) {
  const params = new URLSearchParams(search);
  const filters = params
    .getAll("f")
    .map((f) => {
      const [op, dimension, ...rest] = f.split("|");
      return { op, dimension, value: rest.join("|") };
    })
    .filter((f) => f.op && f.dimension);
  const period = PERIODS[params.get("period")] ? params.get("period") : DEFAULTS.period;
  const compare = COMPARISONS[params.get("compare")] ? params.get("compare") : DEFAULTS.compare;
  const tabs = {};
  for (const [key, value] of params) {
    if (key.startsWith("tab.")) tabs[key.slice(4)] = value;
  }
  return {
    page: PAGES[params.get("page")] ? params.get("page") : "stats",
    site: params.get("site") || "",
    period,
    from: params.get("from") || "",
    to: params.get("to") || "",
    compare,
    metric: params.get("metric") || DEFAULTS.metric,
    prop: params.get("prop") || "",
    funnel: params.get("funnel") || "",
    imports: params.get("imports") === "on",
    filters,
    tabs,
  };
}

/** The query string of a state, defaults omitted. */
export function serialize(state) {
  const params = new URLSearchParams();
  if (state.page !== "stats") params.set("page", state.page);
  if (state.site) params.set("site", state.site);
  if (state.period !== DEFAULTS.period) params.set("period", state.period);
  if (state.period === "custom") {
    params.set("from", state.from);
    params.set("to", state.to);
  }
  if (state.compare !== DEFAULTS.compare) params.set("compare", state.compare);
  if (state.metric !== DEFAULTS.metric) params.set("metric", state.metric);
  if (state.prop) params.set("prop", state.prop);
  if (state.funnel) params.set("funnel", state.funnel);
  if (state.imports) params.set("imports", "on");
  for (const f of state.filters) params.append("f", `${f.op}|${f.dimension}|${f.value}`);
  for (const [panel, tab] of Object.entries(state.tabs)) params.set(`tab.${panel}`, tab);
  const text = params.toString();
  return text ? `?${text}` : "";
}

let current = parse(location.search);
let listener = () => {};

/** The state now. Treat it as read-only: change it with `update`. */
export function get() {
  return current;
}

/**
 * Changes the state: `change` is merged in, a history entry is pushed (replaced when
 * `replace`, for corrections nobody wants to go back to) and the listener is called.
 */
export function update(change, { replace = false } = {}) {
  current = { ...current, ...change };
  const url = `${location.pathname}${serialize(current)}`;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  listener(current);
}

/** Registers the function that renders a state; back/forward call it too. */
export function listen(render) {
  listener = render;
  addEventListener("popstate", () => {
    current = parse(location.search);
    listener(current);
  });
}

/** The date range in words, for captions and summaries: "Last 30 days", "2025-01-01 to 2025-01-31". */
export function rangeText(state) {
  return state.period === "custom" ? `${state.from} to ${state.to}` : PERIODS[state.period].label;
}

/** Adds a filter, replacing any filter on the same dimension (clicking another row). */
export function withFilter(filters, dimension, value) {
  return [...filters.filter((f) => f.dimension !== dimension), { op: "is", dimension, value }];
}

/**
 * The part of a tally.query every panel shares: site, date range, filters and the
 * imported data when the imports toggle is on.
 */
export function baseQuery(state) {
  const date_range = state.period === "custom" ? [state.from, state.to] : PERIODS[state.period].range;
  // A saved segment is named by its id, a number.
  const value = (f) => (f.dimension === "segment" ? Number(f.value) : f.value);
  const q = { site_id: state.site, date_range, filters: state.filters.map((f) => [f.op, f.dimension, [value(f)]]) };
  return state.imports ? { ...q, include: { imports: true } } : q;
}

/** Query `q` with the state's comparison included (none when off or realtime). */
export function compared(state, q) {
  if (state.compare === "off" || state.period === "realtime") return q;
  return { ...q, include: { ...q.include, comparisons: { mode: state.compare } } };
}
