// The demo pages' own script, as a site would have it: queues a call before the tracker
// loads, and wires the buttons.
window.tally = window.tally || function () { (window.tally.q = window.tally.q || []).push(arguments); };
tally("Queued Before Load");
document.addEventListener("DOMContentLoaded", function () {
  var on = function (id, fn) { var el = document.getElementById(id); if (el) el.addEventListener("click", fn); };
  on("spa", function () { history.pushState({}, "", "/app/settings"); });
  on("signup", function () { tally("Signup", { props: { plan: "pro", seats: 3 }, revenue: { amount: "19.99", currency: "EUR" } }); });
  on("optout", function () { localStorage.setItem("tally_ignore", "true"); });
  on("outbound", function (e) { e.preventDefault(); });
  on("download", function (e) { e.preventDefault(); });
});
