// A site's lists the stats panels choose from (funnels, saved segments, property keys),
// read once per site and kept until a page that changes them says so: panels render on
// every change of the view, and these lists change only when someone edits them.

const kept = new Map();

/** `load()`'s answer for `kind` of `site`, read once and then kept. */
export function cached(kind, site, load) {
  const key = `${kind}\n${site}`;
  if (!kept.has(key)) {
    const answer = load();
    // A failed read is not kept: the next render asks again.
    answer.catch(() => kept.delete(key));
    kept.set(key, answer);
  }
  return kept.get(key);
}

/** Forgets the lists of `site` (or only its `kind`): they changed. */
export function forget(site, kind = null) {
  for (const key of [...kept.keys()]) {
    const [k, s] = key.split("\n");
    if (s === site && (!kind || k === kind)) kept.delete(key);
  }
}
