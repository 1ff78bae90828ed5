/* Tally tracker: <script defer src="https://GATEWAY/tally.js" data-domain="example.com"></script>
   Sends Plausible-format events to the gateway's /api/event. Options (attributes):
   data-domain (default: this host), data-api (default: the script's origin + /api/event),
   data-hash (count #/routes as pages). Custom events: tally("Signup", {props: {plan: "pro"},
   revenue: {amount: "19.99", currency: "EUR"}, callback: fn}). Opt out on a browser with
   localStorage.tally_ignore = "true". Outbound links, file downloads and tagged
   elements (class="plausible-event-name=Sign+Up plausible-event-plan=pro") are tracked, and
   each page's engaged time and scroll depth (Plausible's engagement events). Served at Plausible's /js/script.<ext>.js too,
   it answers to window.plausible and its file name's extensions (hash, outbound-links,
   file-downloads, tagged-events, pageview-props, manual) choose what it tracks, as Plausible's variants do.
   Pages on localhost or file: send nothing, as with Plausible's script, but for script.local.js.
   The gateway serves builds of this file (crate::tracker_script): a fragment opened by
   the comment "@+feature" is kept only when the script's name asks for the feature, one
   opened by "@-feature" only when it does not (the comment "@" closes either), and
   comments are dropped. */
(function () {
  "use strict";
  var w = window, d = document, l = location, s = d.currentScript/*@+compat*/ || d.getElementById("plausible")/*@*/;
  var api = s.getAttribute("data-api") || new URL(s.src).origin + "/api/event";
  var domain = s.getAttribute("data-domain") || l.hostname;
  var variant = /\/js\/script((?:\.[a-z-]+)*)\.js(?:[?#]|$)/.exec(s.src);
  var ext = variant ? variant[1].split(".") : null;
  var has = function (e) { return ext ? ext.indexOf(e) >= 0 : e !== "manual"; };
  var hash = s.hasAttribute("data-hash") || (ext !== null && has("hash"));
  var files = /\.(pdf|xlsx?|docx?|txt|rtf|csv|exe|key|pp[st]x?|7z|pkg|rar|gz|zip|avi|mov|mp4|mpe?g|wmv|midi?|mp3|wav|wma|dmg|iso|msi|apk)$/i;
  var last;

  function ignored() {
    /*@-local*/
    if (/^localhost$|^127(\.\d+){0,2}\.\d+$|^\[::1?\]$/.test(l.hostname) || l.protocol == "file:") return true;
    /*@*/
    try { return localStorage.getItem("tally_ignore") === "true"; } catch (e) { return false; }
  }

  /*@+exclusions*/
  // Plausible's data-include and data-exclude: comma-separated paths (with the hash in
  // hash mode) where * is a run of characters but "/" and ** any run; a pageview is sent
  // on an included page (any, when none is listed) that no exclusion matches.
  function matches(list) {
    var p = l.pathname + (hash ? l.hash : "");
    return list.split(",").some(function (w) {
      return new RegExp("^" + w.trim().replace(/\*\*|\*|[.?+^${}()|[\]\\]/g, function (c) {
        return c == "**" ? ".*" : c == "*" ? "[^\\s/]*" : "\\" + c;
      }) + "/?$").test(p);
    });
  }
  function excluded() {
    var i = s.getAttribute("data-include"), x = s.getAttribute("data-exclude");
    return (i && !matches(i)) || (x && matches(x));
  }
  /*@*/

  function send(name, o) {
    o = o || {};
    var done = function () { if (o.callback) o.callback(); };
    if (ignored()/*@+exclusions*/ || (name == "pageview" && excluded())/*@*/) return done();
    var body = { n: name, u: o.u || (hash ? l.href : l.href.split("#")[0]), d: domain, r: d.referrer || null, w: w.innerWidth };
    if (o.props) body.p = o.props;
    if (o.revenue) body.$ = o.revenue;
    if (o.interactive === false) body.i = false;
    if (hash) body.h = 1;
    if (o.e != null) { body.e = o.e; body.sd = o.sd; }
    // text/plain keeps it a simple request (no CORS preflight); keepalive lets it finish
    // while the page unloads, e.g. after an outbound click.
    fetch(api, { method: "POST", headers: { "Content-Type": "text/plain" }, body: JSON.stringify(body), keepalive: true })
      .then(done, done);
  }

  // Engagement, as Plausible's script reports it: on leaving a page (hidden, unloaded or
  // an SPA route) the visible milliseconds since the last report and the deepest scroll.
  var url, seen = 0, since = 0, deepest = 0, told = 0, pv;
  // Plausible's pageview-props: the script tag's event-<prop>="value" attributes.
  s.getAttributeNames().forEach(function (a) {
    if (has("pageview-props") && a.indexOf("event-") === 0) (pv = pv || {})[a.slice(6)] = s.getAttribute(a);
  });
  function scroll() {
    var h = d.documentElement.scrollHeight;
    if (h) deepest = Math.max(deepest, Math.min(100, Math.round((w.scrollY + w.innerHeight) * 100 / h)));
  }
  function engage() {
    if (since) seen += Date.now() - since;
    since = d.hidden ? 0 : Date.now();
    if (url && (seen || deepest > told)) send("engagement", { u: url, e: seen, sd: deepest });
    seen = 0; told = deepest;
  }

  function page() {
    var p = l.pathname + (hash ? l.hash : "");
    if (p === last) return;
    engage();
    last = p;
    send("pageview", { props: pv });
    // An excluded page reports no engagement either.
    url = /*@+exclusions*/excluded() ? 0 : /*@*/hash ? l.href : l.href.split("#")[0];
    deepest = told = 0;
    scroll();
  }

  // A tagged element or ancestor sends its event (not a link's); a tagged form its submission.
  function tagged(e) {
    var t = has("tagged-events") && e.target.closest && e.target.closest('[class*="plausible-event-name="]');
    if (!t || (t.tagName === "FORM") !== (e.type === "submit")) return false;
    var o = { props: {} }, name;
    t.classList.forEach(function (c) {
      var m = /^plausible-event-([^=]+)=(.+)$/.exec(c);
      if (m) { var v = m[2].replace(/\+/g, " "); if (m[1] === "name") name = v; else o.props[m[1]] = v; }
    });
    send(name, o);
    return true;
  }

  function click(e) {
    if (e.type === "auxclick" && e.button !== 1) return;
    if (tagged(e)) return;
    var a = e.target.closest && e.target.closest("a[href]");
    if (!a) return;
    if (files.test(a.pathname)) { if (has("file-downloads")) send("File Download", { props: { url: a.href } }); }
    else if (/^https?:$/.test(a.protocol) && a.host !== l.host && has("outbound-links")) send("Outbound Link: Click", { props: { url: a.href } });
  }

  var auto = !has("manual");
  if (auto) {
    var push = history.pushState;
    history.pushState = function () { push.apply(this, arguments); page(); };
    w.addEventListener("popstate", page);
    if (hash) w.addEventListener("hashchange", page);
  }
  d.addEventListener("click", click);
  d.addEventListener("auxclick", click);
  d.addEventListener("submit", tagged);
  w.addEventListener("scroll", scroll, { passive: true });
  d.addEventListener("visibilitychange", engage);
  w.addEventListener("pagehide", engage);

  // Calls made before the script loaded: window.tally = window.tally || function () { (tally.q = tally.q || []).push(arguments) },
  // or Plausible's snippet's window.plausible queue.
  var queued = ((w.tally && w.tally.q) || []).concat((w.plausible && w.plausible.q) || []);
  w.tally = w.plausible = send;
  for (var i = 0; i < queued.length; i++) send.apply(null, queued[i]);
  if (auto) page();
})();
