// Locations: countries, regions and cities of the visitors.

import { breakdown } from "./breakdown.js";

export const locations = () =>
  breakdown({
    id: "locations",
    title: "Locations",
    tabs: [
      { key: "country", label: "Countries", dimension: "visit:country" },
      { key: "region", label: "Regions", dimension: "visit:region" },
      { key: "city", label: "Cities", dimension: "visit:city" },
    ],
  });
