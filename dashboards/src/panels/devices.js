// Devices: device class, browser and operating system of the visitors.

import { breakdown } from "./breakdown.js";

export const devices = () =>
  breakdown({
    id: "devices",
    title: "Devices",
    tabs: [
      { key: "device", label: "Devices", dimension: "visit:device" },
      { key: "browser", label: "Browsers", dimension: "visit:browser" },
      { key: "os", label: "OS", dimension: "visit:os" },
    ],
  });
