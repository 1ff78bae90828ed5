//! The tracker script (`gateway/tracker/tally.js`) as served: one build per combination
//! of the features a Plausible script name can ask for that cost bytes in every page
//! ([`FEATURES`]), each holding only the code its name asks for, assembled once and kept
//! in memory. The other extensions (`hash`, `outbound-links`, ...) are small and the
//! script reads them from its own file name.
//!
//! In the source, a fragment opened by the comment `/*@+feature*/` is kept only in builds
//! with that feature, one opened by `/*@-feature*/` only in builds without it, and
//! `/*@*/` closes either. Comments (the header block and whole `//` lines) and
//! indentation are developers' reading, so builds drop them.

use std::sync::LazyLock;

/// The tracker's source.
const SOURCE: &str = include_str!("../tracker/tally.js");

/// Features with a build of their own: Plausible's `exclusions` (`data-include` and
/// `data-exclude`), `local` (pages on localhost and `file:` are tracked) and `compat`
/// (the script tag found by `id="plausible"` where `document.currentScript` is missing).
pub const FEATURES: [&str; 3] = ["exclusions", "local", "compat"];

/// Every build, indexed by the bit set of its [`FEATURES`].
static BUILDS: LazyLock<Vec<String>> = LazyLock::new(|| {
    (0..1usize << FEATURES.len())
        .map(|bits| {
            let has = |feature: &str| FEATURES.iter().position(|f| *f == feature).is_some_and(|i| bits & (1 << i) != 0);
            assemble(SOURCE, has)
        })
        .collect()
});

/// The build for a script whose name has these extensions (`["hash", "local"]`);
/// extensions without a build of their own do not change it.
pub fn build<'a>(extensions: impl IntoIterator<Item = &'a str>) -> &'static str {
    let bits = extensions.into_iter().filter_map(|e| FEATURES.iter().position(|f| *f == e)).fold(0, |bits, i| bits | 1 << i);
    &BUILDS[bits]
}

/// `source` with the fragments of features `has` denies removed, and without comments
/// or indentation.
fn assemble(source: &str, has: impl Fn(&str) -> bool) -> String {
    let mut kept = String::with_capacity(source.len());
    let mut pieces = source.split("/*@");
    kept.push_str(pieces.next().unwrap_or_default());
    for piece in pieces {
        let (marker, rest) = piece.split_once("*/").expect("a fragment marker is closed");
        let keep = match marker.split_at_checked(1) {
            Some(("+", feature)) => has(feature),
            Some(("-", feature)) => !has(feature),
            _ => true,
        };
        if keep {
            kept.push_str(rest);
        }
    }
    let body = match kept.trim_start().strip_prefix("/*") {
        Some(header) => header.split_once("*/").map_or("", |(_, rest)| rest),
        None => &kept,
    };
    let mut out = String::with_capacity(body.len());
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("//")) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_follow_features() {
        let source = "/* header */\nvar a = 1/*@+x*/ + x/*@*/;\n  // note\n  /*@-y*/\n  no_y();\n  /*@*/\nend();\n";
        assert_eq!(assemble(source, |_| false), "var a = 1;\nno_y();\nend();\n");
        assert_eq!(assemble(source, |f| f == "x"), "var a = 1 + x;\nno_y();\nend();\n");
        assert_eq!(assemble(source, |f| f == "y"), "var a = 1;\nend();\n");
    }

    #[test]
    fn builds_hold_what_their_names_ask_for() {
        let plain = build([]);
        assert_eq!(build(["hash", "outbound-links"]), plain, "runtime extensions share the plain build");
        assert!(plain.contains("localhost") && !plain.contains("data-exclude") && !plain.contains("getElementById"));
        let local = build(["local", "exclusions"]);
        assert!(!local.contains("localhost") && local.contains("data-exclude"));
        assert!(build(["compat"]).contains("getElementById(\"plausible\")"));
        assert!(!plain.contains("/*") && !plain.contains("\n//"), "no comments");
    }
}
