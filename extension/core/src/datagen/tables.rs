//! Reference data the generator draws from. Weights are rough shares of web traffic
//! (StatCounter-like orders of magnitude), enough to give dictionaries and run lengths
//! a realistic shape; they are not statistics anyone should quote.

/// Country, traffic weight, and regions with a few cities each.
pub(super) type Country = (&'static str, f64, &'static [(&'static str, &'static [&'static str])]);

pub(super) const COUNTRIES: &[Country] = &[
    (
        "US",
        30.0,
        &[
            ("US-CA", &["San Francisco", "Los Angeles", "San Diego", "San Jose"]),
            ("US-NY", &["New York", "Brooklyn", "Buffalo"]),
            ("US-TX", &["Austin", "Houston", "Dallas"]),
            ("US-WA", &["Seattle", "Redmond"]),
            ("US-IL", &["Chicago"]),
            ("US-MA", &["Boston", "Cambridge"]),
        ],
    ),
    (
        "DE",
        8.0,
        &[("DE-BE", &["Berlin"]), ("DE-BY", &["Munich", "Nuremberg"]), ("DE-HH", &["Hamburg"]), ("DE-NW", &["Cologne", "Düsseldorf"])],
    ),
    ("GB", 7.0, &[("GB-ENG", &["London", "Manchester", "Bristol", "Leeds"]), ("GB-SCT", &["Edinburgh", "Glasgow"])]),
    ("IN", 7.0, &[("IN-KA", &["Bengaluru"]), ("IN-MH", &["Mumbai", "Pune"]), ("IN-DL", &["New Delhi"]), ("IN-TG", &["Hyderabad"])]),
    ("FR", 4.0, &[("FR-IDF", &["Paris"]), ("FR-ARA", &["Lyon", "Grenoble"]), ("FR-OCC", &["Toulouse"])]),
    ("CA", 4.0, &[("CA-ON", &["Toronto", "Ottawa"]), ("CA-BC", &["Vancouver"]), ("CA-QC", &["Montréal"])]),
    ("BR", 3.0, &[("BR-SP", &["São Paulo", "Campinas"]), ("BR-RJ", &["Rio de Janeiro"])]),
    ("NL", 3.0, &[("NL-NH", &["Amsterdam"]), ("NL-ZH", &["Rotterdam", "The Hague"])]),
    ("JP", 2.5, &[("JP-13", &["Tokyo"]), ("JP-27", &["Osaka"])]),
    ("AU", 2.5, &[("AU-NSW", &["Sydney"]), ("AU-VIC", &["Melbourne"])]),
    ("ES", 2.0, &[("ES-MD", &["Madrid"]), ("ES-CT", &["Barcelona"])]),
    ("IT", 2.0, &[("IT-25", &["Milan"]), ("IT-62", &["Rome"])]),
    ("PL", 1.5, &[("PL-14", &["Warsaw"]), ("PL-12", &["Kraków"])]),
    ("SE", 1.2, &[("SE-AB", &["Stockholm"])]),
    ("CH", 1.0, &[("CH-ZH", &["Zürich"]), ("CH-GE", &["Geneva"])]),
    ("SG", 1.0, &[("SG-01", &["Singapore"])]),
    ("KR", 1.0, &[("KR-11", &["Seoul"])]),
    ("UA", 0.8, &[("UA-30", &["Kyiv"])]),
    ("MX", 0.8, &[("MX-CMX", &["Mexico City"])]),
    ("AR", 0.5, &[("AR-C", &["Buenos Aires"])]),
    ("ZA", 0.4, &[("ZA-GT", &["Johannesburg"])]),
    ("NG", 0.4, &[("NG-LA", &["Lagos"])]),
];

/// Countries seen without a resolvable region or city (small or unmapped IP ranges).
pub(super) const LONG_TAIL_COUNTRIES: &[&str] = &[
    "AT", "BE", "DK", "FI", "NO", "IE", "PT", "CZ", "RO", "HU", "GR", "TR", "IL", "AE", "SA", "EG", "KE", "VN", "TH", "ID", "MY", "PH",
    "PK", "BD", "CL", "CO", "PE", "NZ", "TW", "HK",
];

/// Operating system, weight, versions (newest first), device classes it runs on.
pub(super) type Os = (&'static str, f64, &'static [&'static str], &'static [&'static str]);

pub(super) const OSES: &[Os] = &[
    ("Windows", 35.0, &["11", "10"], &["desktop"]),
    ("Android", 25.0, &["14", "13", "15", "12", "11"], &["mobile", "mobile", "mobile", "tablet"]),
    ("iOS", 18.0, &["17.5", "18.1", "17.4", "16.7", "18.0"], &["mobile", "mobile", "tablet"]),
    ("Mac", 15.0, &["14.6", "15.1", "13.6", "12.7"], &["desktop"]),
    ("GNU/Linux", 4.0, &["6.8", "6.5"], &["desktop"]),
    ("Chrome OS", 1.5, &["126", "124"], &["desktop"]),
];

/// Browser, weight, major versions (newest first).
pub(super) const BROWSERS: &[(&str, f64, &[&str])] = &[
    ("Chrome", 62.0, &["131", "130", "129", "128", "127", "126", "120", "109"]),
    ("Safari", 19.0, &["18.1", "17.5", "17.4", "16.6"]),
    ("Firefox", 6.0, &["132", "131", "128", "115"]),
    ("Microsoft Edge", 5.5, &["131", "130", "129"]),
    ("Samsung Internet", 3.0, &["26.0", "25.0"]),
    ("Opera", 2.0, &["114", "113"]),
    ("DuckDuckGo Privacy Browser", 0.8, &["5.220"]),
];

/// CSS viewport widths per device class, most common first.
pub(super) const SCREEN_WIDTHS: &[(&str, &[i32])] = &[
    ("mobile", &[390, 393, 412, 375, 414, 360, 430, 384]),
    ("tablet", &[768, 820, 810, 1024, 800]),
    ("desktop", &[1920, 1536, 1440, 1366, 1280, 2560, 1680, 1600]),
];

/// Referrer sources, most common first: name, URL shape (`{}` gets a post id).
pub(super) const REFERRERS: &[(&str, Option<&str>)] = &[
    ("Direct", None),
    ("Google", Some("https://www.google.com/")),
    ("Bing", Some("https://www.bing.com/")),
    ("DuckDuckGo", Some("https://duckduckgo.com/")),
    ("Twitter", Some("https://t.co/{}")),
    ("Reddit", Some("https://www.reddit.com/r/programming/comments/{}/")),
    ("Hacker News", Some("https://news.ycombinator.com/item?id={}")),
    ("LinkedIn", Some("https://www.linkedin.com/feed/update/{}")),
    ("Facebook", Some("https://l.facebook.com/")),
    ("GitHub", Some("https://github.com/tally/{}")),
    ("Yandex", Some("https://yandex.ru/")),
    ("Ecosia", Some("https://www.ecosia.org/")),
];

pub(super) const UTM_SOURCES: &[&str] = &["newsletter", "twitter", "linkedin", "google", "facebook", "producthunt"];
pub(super) const UTM_MEDIUMS: &[&str] = &["email", "social", "cpc", "referral"];
pub(super) const UTM_CAMPAIGNS: &[&str] = &[
    "spring-launch",
    "black-friday",
    "weekly-digest",
    "webinar-q3",
    "onboarding-drip",
    "retargeting",
    "brand-search",
    "product-hunt-day",
    "changelog",
    "holiday-sale",
];
pub(super) const UTM_TERMS: &[&str] = &["web analytics", "privacy analytics", "google analytics alternative", "postgres analytics"];
pub(super) const UTM_CONTENTS: &[&str] = &["hero-cta", "footer-link", "banner-a", "banner-b"];

/// Top-level pages every site has.
pub(super) const CORE_PAGES: &[&str] = &[
    "/",
    "/pricing",
    "/features",
    "/blog",
    "/docs",
    "/about",
    "/login",
    "/signup",
    "/contact",
    "/changelog",
    "/careers",
    "/privacy",
    "/terms",
];

/// Words that make blog slugs and doc topics.
pub(super) const WORDS: &[&str] = &[
    "postgres",
    "analytics",
    "privacy",
    "cookies",
    "dashboards",
    "funnels",
    "retention",
    "sql",
    "scaling",
    "indexes",
    "events",
    "sessions",
    "campaigns",
    "goals",
    "revenue",
    "compression",
    "columnar",
    "segments",
    "sketches",
    "alerts",
    "exports",
    "teams",
];

/// Currencies of purchases, most common first.
pub(super) const CURRENCIES: &[&str] = &["USD", "EUR", "GBP", "CAD"];
pub(super) const PLANS: &[&str] = &["free", "pro", "team", "enterprise"];
pub(super) const SIGNUP_METHODS: &[&str] = &["email", "google", "github"];
