//! The acquisition channel of a visit (`visit:channel`): the marketing channel it came
//! through, from its source, UTM tags and ad click id, with the channels and rules of
//! Plausible (themselves Google Analytics 4's default channel groups, with Plausible's
//! extensions for click ids and `*-ads` sources), so reports read the same in both.
//!
//! The rules are tried in a fixed order and the first that holds names the channel;
//! every comparison ignores case. A source's category (search engine, social network,
//! video site, shop, webmail) is the `medium` our referrer list gives it
//! ([`super::referrer_source`]). Where Plausible's category list and ours differ, ours
//! decides; and a referrer our list knows as an ad network (`medium = "paid"`) is paid
//! traffic, `Paid Other`, where Plausible, which has no such category, says `Referral`.
//! Plausible's newer `AI Assistants` channel is not one of these: assistants are
//! `Referral` (or `Organic Search`) as the list's medium says.

use url::Url;

use super::referrer_source::named_source;

/// The channels, in the order their rules are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    CrossNetwork,
    PaidShopping,
    PaidSearch,
    PaidSocial,
    PaidVideo,
    Display,
    PaidOther,
    OrganicShopping,
    OrganicSocial,
    OrganicVideo,
    OrganicSearch,
    Email,
    Affiliates,
    Audio,
    Sms,
    MobilePushNotifications,
    Referral,
    Direct,
}

impl Channel {
    /// The name reports and filters use, as Plausible spells it.
    pub fn name(self) -> &'static str {
        match self {
            Channel::CrossNetwork => "Cross-network",
            Channel::PaidShopping => "Paid Shopping",
            Channel::PaidSearch => "Paid Search",
            Channel::PaidSocial => "Paid Social",
            Channel::PaidVideo => "Paid Video",
            Channel::Display => "Display",
            Channel::PaidOther => "Paid Other",
            Channel::OrganicShopping => "Organic Shopping",
            Channel::OrganicSocial => "Organic Social",
            Channel::OrganicVideo => "Organic Video",
            Channel::OrganicSearch => "Organic Search",
            Channel::Email => "Email",
            Channel::Affiliates => "Affiliates",
            Channel::Audio => "Audio",
            Channel::Sms => "SMS",
            Channel::MobilePushNotifications => "Mobile Push Notifications",
            Channel::Referral => "Referral",
            Channel::Direct => "Direct",
        }
    }
}

/// An ad platform's click id on the landing URL: the platform tagged the link itself,
/// so a click from its search engine is a paid one even without UTM tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClickId {
    /// `gclid`: Google Ads.
    Google,
    /// `msclkid`: Microsoft Advertising (Bing).
    Microsoft,
}

/// The click id of a landing URL, if it has one.
pub fn click_id(url: &Url) -> Option<ClickId> {
    url.query_pairs().find_map(|(key, value)| match key.as_ref() {
        _ if value.is_empty() => None,
        "gclid" => Some(ClickId::Google),
        "msclkid" => Some(ClickId::Microsoft),
        _ => None,
    })
}

/// What a visit's channel is decided from, as the event stores it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Acquisition<'a> {
    /// The visit's source (`referrer_source`): the UTM source when tagged, else the
    /// referrer's name in the list or its host.
    pub source: Option<&'a str>,
    pub utm_source: Option<&'a str>,
    pub utm_medium: Option<&'a str>,
    pub utm_campaign: Option<&'a str>,
    pub click_id: Option<ClickId>,
}

/// Mediums that mean display advertising.
const DISPLAY_MEDIUMS: [&str; 5] = ["display", "banner", "expandable", "interstitial", "cpm"];

/// Mediums that mean a social network without naming one.
const SOCIAL_MEDIUMS: [&str; 6] = ["social", "social-network", "social-media", "sm", "social network", "social media"];

/// Words in a UTM source or medium that mean an email.
const EMAIL_WORDS: [&str; 5] = ["email", "e-mail", "e_mail", "e mail", "newsletter"];

/// The channel of a visit.
pub fn channel(a: &Acquisition<'_>) -> Channel {
    let lower = |v: Option<&str>| v.map(str::to_lowercase).unwrap_or_default();
    let (source, utm_source, medium, campaign) = (lower(a.source), lower(a.utm_source), lower(a.utm_medium), lower(a.utm_campaign));
    let known = source_named(&source);
    let category = known.map_or("", |k| k.medium.as_str());
    let named = |name: &str| known.is_some_and(|k| k.name == name);
    let paid = paid_medium(&medium) || paid_tag(&utm_source).is_some();
    let shopping = category == "shopping" || shopping_campaign(&campaign);
    let clicked =
        matches!((a.click_id, named("Google"), named("Bing")), (Some(ClickId::Google), true, _) | (Some(ClickId::Microsoft), _, true));
    if campaign.contains("cross-network") {
        Channel::CrossNetwork
    } else if shopping && paid_medium(&medium) {
        Channel::PaidShopping
    } else if (category == "search" && paid) || clicked {
        Channel::PaidSearch
    } else if category == "social" && paid {
        Channel::PaidSocial
    } else if category == "video" && paid {
        Channel::PaidVideo
    } else if DISPLAY_MEDIUMS.contains(&medium.as_str()) {
        Channel::Display
    } else if paid_medium(&medium) || category == "paid" {
        Channel::PaidOther
    } else if shopping {
        Channel::OrganicShopping
    } else if category == "social" || SOCIAL_MEDIUMS.contains(&medium.as_str()) {
        Channel::OrganicSocial
    } else if category == "video" || medium.contains("video") {
        Channel::OrganicVideo
    } else if category == "search" {
        Channel::OrganicSearch
    } else if category == "email" || EMAIL_WORDS.iter().any(|w| utm_source.contains(w) || medium.contains(w)) {
        Channel::Email
    } else if medium == "affiliate" {
        Channel::Affiliates
    } else if medium == "audio" {
        Channel::Audio
    } else if utm_source == "sms" || medium == "sms" {
        Channel::Sms
    } else if medium.ends_with("push") || medium.contains("mobile") || medium.contains("notification") || source == "firebase" {
        Channel::MobilePushNotifications
    } else if ["referral", "app", "link"].contains(&medium.as_str()) || !source.is_empty() {
        Channel::Referral
    } else {
        Channel::Direct
    }
}

/// The known source `source` names, also through a paid tag (`fb-ads` is Facebook's).
fn source_named(source: &str) -> Option<&'static super::referrer_source::KnownSource> {
    named_source(source).or_else(|| paid_tag(source).and_then(named_source))
}

/// A medium of paid traffic: cost per click or mille (`cpc`, `cpm`, any with `cp`),
/// `ppc`, `retargeting`, or one starting with `paid`.
fn paid_medium(medium: &str) -> bool {
    medium.contains("cp") || medium == "ppc" || medium == "retargeting" || medium.starts_with("paid")
}

/// For a UTM source that marks an ad (`fb-ads`, `facebook_ad`, `fbad`, `adwords`), the
/// source it names without the mark (`fb`, `facebook`, `fb`, `adwords`).
fn paid_tag(utm_source: &str) -> Option<&str> {
    if utm_source == "adwords" {
        return Some(utm_source);
    }
    let stem = utm_source.strip_suffix("ads").or_else(|| utm_source.strip_suffix("ad"))?;
    let stem = stem.trim_end_matches(['-', '_', ' ', '.']);
    (!stem.is_empty()).then_some(stem)
}

/// A campaign about shopping: one that says `shopping`, or `shop` at the start of a word
/// (or after an `e`, as in `eshop`).
fn shopping_campaign(campaign: &str) -> bool {
    campaign.contains("shopping")
        || campaign
            .match_indices("shop")
            .any(|(at, _)| campaign[..at].chars().next_back().is_none_or(|before| !before.is_ascii_lowercase() || before == 'e'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The channel of a visit with these tags (`source` as the event stores it).
    fn of(source: Option<&str>, utm_source: Option<&str>, utm_medium: Option<&str>, utm_campaign: Option<&str>) -> &'static str {
        channel(&Acquisition { source, utm_source, utm_medium, utm_campaign, click_id: None }).name()
    }

    fn clicked(source: &str, click_id: ClickId, utm_medium: Option<&str>) -> &'static str {
        channel(&Acquisition { source: Some(source), utm_medium, click_id: Some(click_id), ..Acquisition::default() }).name()
    }

    /// A visit tagged with `utm_source` alone: the source is the tag.
    fn tagged(utm_source: &str) -> &'static str {
        of(Some(utm_source), Some(utm_source), None, None)
    }

    #[test]
    fn untagged_visits_are_direct_or_their_sources_category() {
        assert_eq!(of(None, None, None, None), "Direct");
        assert_eq!(of(Some("Google"), None, None, None), "Organic Search");
        assert_eq!(of(Some("DuckDuckGo"), None, None, None), "Organic Search");
        assert_eq!(of(Some("Facebook"), None, None, None), "Organic Social");
        assert_eq!(of(Some("Hacker News"), None, None, None), "Organic Social");
        assert_eq!(of(Some("Vimeo"), None, None, None), "Organic Video");
        assert_eq!(of(Some("YouTube"), None, None, None), "Organic Video");
        assert_eq!(of(Some("Walmart"), None, None, None), "Organic Shopping");
        assert_eq!(of(Some("Gmail"), None, None, None), "Email");
        assert_eq!(of(Some("Wikipedia"), None, None, None), "Referral");
        assert_eq!(of(Some("othersite.com"), None, None, None), "Referral");
        assert_eq!(of(Some("Google Ads"), None, None, None), "Paid Other", "an ad network's referrer is a paid visit");
    }

    #[test]
    fn utm_mediums_and_campaigns_name_channels_without_a_known_source() {
        assert_eq!(of(None, None, None, Some("spring-cross-network")), "Cross-network");
        assert_eq!(of(None, None, Some("paid"), Some("shopping")), "Paid Shopping");
        assert_eq!(of(None, None, Some("banner"), None), "Display");
        assert_eq!(of(None, None, Some("cpc"), None), "Paid Other");
        assert_eq!(of(None, None, Some("retargeting"), None), "Paid Other");
        assert_eq!(of(None, None, None, Some("shop")), "Organic Shopping");
        assert_eq!(of(None, None, None, Some("summer-eshop")), "Organic Shopping");
        assert_eq!(of(Some("blog.example.org"), None, None, Some("workshop")), "Referral", "shop inside a word is no shop");
        assert_eq!(of(None, None, Some("social"), None), "Organic Social");
        assert_eq!(of(None, None, Some("video"), None), "Organic Video");
        assert_eq!(of(None, None, Some("email"), None), "Email");
        assert_eq!(of(None, None, Some("affiliate"), None), "Affiliates");
        assert_eq!(of(None, None, Some("audio"), None), "Audio");
        assert_eq!(of(None, None, Some("sms"), None), "SMS");
        assert_eq!(of(None, None, Some("app-push"), None), "Mobile Push Notifications");
        assert_eq!(of(None, None, Some("example-mobile"), None), "Mobile Push Notifications");
        assert_eq!(of(None, None, Some("referral"), None), "Referral");
    }

    #[test]
    fn utm_tags_override_the_referrers_category() {
        // The source a UTM tag names decides, whatever the referrer was.
        assert_eq!(tagged("google"), "Organic Search");
        assert_eq!(tagged("walmart.com"), "Organic Shopping");
        assert_eq!(tagged("ig"), "Organic Social");
        assert_eq!(tagged("yt"), "Organic Video");
        assert_eq!(tagged("sms"), "SMS");
        assert_eq!(tagged("Newsletter-UK"), "Email");
        assert_eq!(tagged("email"), "Email");
        // A paid medium turns a source's organic channel into its paid one.
        assert_eq!(of(Some("DuckDuckGo"), None, Some("paid"), None), "Paid Search");
        assert_eq!(of(Some("tiktok"), Some("tiktok"), Some("paid"), None), "Paid Social");
        assert_eq!(of(Some("youtube"), Some("youtube"), Some("paid"), None), "Paid Video");
        assert_eq!(of(Some("shopify.com"), None, Some("paid"), None), "Paid Shopping");
        assert_eq!(of(Some("Google"), Some("google"), Some("display"), None), "Display");
        assert_eq!(of(Some("Google"), None, Some("cpm"), None), "Paid Search", "paid search is tried before display");
    }

    #[test]
    fn ad_tagged_sources_are_paid() {
        assert_eq!(tagged("fb-ads"), "Paid Social");
        assert_eq!(tagged("fbad"), "Paid Social");
        assert_eq!(tagged("facebook-ads"), "Paid Social");
        assert_eq!(tagged("Reddit-ads"), "Paid Social");
        assert_eq!(tagged("twitter-ads"), "Paid Social");
        assert_eq!(tagged("yt-ads"), "Paid Video");
        assert_eq!(tagged("google_ads"), "Paid Search");
        assert_eq!(tagged("Google-ads"), "Paid Search");
        assert_eq!(tagged("Adwords"), "Paid Search");
        // An ending in `ad` that names no known source is no ad.
        assert_eq!(tagged("ipad"), "Referral");
    }

    #[test]
    fn click_ids_make_their_platforms_search_paid() {
        assert_eq!(clicked("Google", ClickId::Google, None), "Paid Search");
        assert_eq!(clicked("Bing", ClickId::Microsoft, None), "Paid Search");
        assert_eq!(clicked("DuckDuckGo", ClickId::Google, None), "Organic Search");
        assert_eq!(clicked("DuckDuckGo", ClickId::Microsoft, None), "Organic Search");
        assert_eq!(clicked("Google", ClickId::Microsoft, None), "Organic Search");
        assert_eq!(clicked("Google", ClickId::Google, Some("display")), "Paid Search");
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(click_id(&url("https://a.com/?utm_source=x&gclid=abc")), Some(ClickId::Google));
        assert_eq!(click_id(&url("https://a.com/?msclkid=abc")), Some(ClickId::Microsoft));
        assert_eq!(click_id(&url("https://a.com/?gclid=")), None);
        assert_eq!(click_id(&url("https://a.com/?fbclid=abc")), None);
    }

    #[test]
    fn comparisons_ignore_case() {
        assert_eq!(of(None, None, Some("CPC"), None), "Paid Other");
        assert_eq!(of(None, None, None, Some("Cross-Network")), "Cross-network");
        assert_eq!(of(Some("GOOGLE"), Some("GOOGLE"), Some("Paid_Search"), None), "Paid Search");
        assert_eq!(of(Some("FIREBASE"), Some("FIREBASE"), None, None), "Mobile Push Notifications");
        assert_eq!(of(None, Some("E-Mail"), None, None), "Email");
    }
}
