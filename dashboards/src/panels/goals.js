// Goals: how many visitors converted on each of the site's goals (tally.goals), and the
// conversion rate. Funnels through several goals have their own panel (funnel.js).

import { breakdown } from "./breakdown.js";

export const goals = () =>
  breakdown({
    id: "goals",
    title: "Goals",
    tabs: [
      {
        key: "goals",
        label: "Goal",
        dimension: "event:goal",
        metrics: ["visitors", "events", "conversion_rate"],
        empty: "No conversions in this range. Goals are defined with tally.create_goal(site_id, name, event_name => …).",
      },
    ],
  });
