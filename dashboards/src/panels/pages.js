// Pages: the most visited pages, and the pages visits begin and end on.

import { breakdown } from "./breakdown.js";

export const pages = () =>
  breakdown({
    id: "pages",
    title: "Pages",
    tabs: [
      { key: "top", label: "Top pages", dimension: "event:page", metrics: ["visitors", "pageviews"] },
      { key: "entry", label: "Entry pages", dimension: "visit:entry_page", metrics: ["visitors", "bounce_rate"] },
      { key: "exit", label: "Exit pages", dimension: "visit:exit_page", metrics: ["visitors", "visits"] },
    ],
  });
