// Sources: where visits come from (named source, acquisition channel, referring URL) and
// their campaign tags.

import { breakdown } from "./breakdown.js";

export const sources = () =>
  breakdown({
    id: "sources",
    title: "Sources",
    tabs: [
      { key: "source", label: "Sources", dimension: "visit:source", metrics: ["visitors", "bounce_rate"] },
      { key: "channel", label: "Channels", dimension: "visit:channel", metrics: ["visitors", "bounce_rate"] },
      { key: "referrer", label: "Referrers", dimension: "visit:referrer" },
      ...["source", "medium", "campaign", "term", "content"].map((tag) => ({
        key: `utm_${tag}`,
        label: `UTM ${tag}`,
        dimension: `visit:utm_${tag}`,
        empty: `No visits with utm_${tag} in this range.`,
      })),
    ],
  });
