// How numbers read on the dashboard. Every figure keeps its exact value in a
// `data-value` attribute beside the text, so tests compare against the API's answer.

const integer = new Intl.NumberFormat("en-US");

/** `1234567` → `1,234,567`; fractional values keep up to two decimals. */
export function number(n) {
  return Number.isInteger(n) ? integer.format(n) : n.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

/** Seconds → `1h 02m`, `3m 05s`, `42s`. */
export function duration(seconds) {
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** A metric's value as shown. */
export function metric(name, value) {
  if (value === null || value === undefined) return "—";
  switch (name) {
    case "bounce_rate":
    case "conversion_rate":
    case "percentage":
      return `${number(value)}%`;
    case "visit_duration":
      return duration(value);
    default:
      return number(value);
  }
}

/**
 * tally.query's `change` as shown: rates change in points (`+2.5 pp`), counts in
 * percent (`+12%`); null (from zero) shows nothing.
 */
export function change(name, value) {
  if (value === null || value === undefined) return "";
  const sign = value > 0 ? "+" : value < 0 ? "−" : "±";
  const magnitude = number(Math.abs(value));
  return ["bounce_rate", "conversion_rate", "percentage"].includes(name) ? `${sign}${magnitude} pp` : `${sign}${magnitude}%`;
}
