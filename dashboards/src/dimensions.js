// Human names of tally.query's dimensions, for filter chips, column headers and
// export file names.

export const LABELS = {
  "event:page": "Page",
  "event:name": "Event",
  "event:goal": "Goal",
  "visit:entry_page": "Entry page",
  "visit:exit_page": "Exit page",
  "visit:source": "Source",
  "visit:channel": "Channel",
  "visit:referrer": "Referrer",
  "visit:utm_source": "UTM source",
  "visit:utm_medium": "UTM medium",
  "visit:utm_campaign": "UTM campaign",
  "visit:utm_term": "UTM term",
  "visit:utm_content": "UTM content",
  "visit:country": "Country",
  "visit:region": "Region",
  "visit:city": "City",
  "visit:device": "Device",
  "visit:browser": "Browser",
  "visit:os": "OS",
};

/** `visit:country` → `Country`; `event:props:plan` → `Property plan`. */
export function label(dimension) {
  if (dimension.startsWith("event:props:")) return `Property ${dimension.slice("event:props:".length)}`;
  return LABELS[dimension] || dimension;
}

/** What a missing value of a dimension means, e.g. direct traffic for sources. */
export function none(dimension) {
  return ["visit:source", "visit:referrer"].includes(dimension) ? "Direct / None" : "(not set)";
}
