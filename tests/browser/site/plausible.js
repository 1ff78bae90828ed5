// Plausible's queue snippet and a custom event sent before the script loads.
window.plausible = window.plausible || function () { (window.plausible.q = window.plausible.q || []).push(arguments); };
plausible("Plausible Queued", { props: { via: "plausible" } });
document.addEventListener("DOMContentLoaded", function () {
  ["outbound", "download"].forEach(function (id) {
    document.getElementById(id).addEventListener("click", function (e) { e.preventDefault(); });
  });
});
