//! Reports for people who do not open the dashboard: a dashboard view (site, range,
//! comparison, filters) answered as one document — KPI cards with their change, the
//! visitors chart, the top tables — rendered as HTML ([`html`]) and printed to PDF by
//! headless Chromium ([`pdf`]). The PDF export route and the scheduled emails both
//! start from [`view::collect`], which runs the view's queries as the asking user, so
//! a report shows exactly what that user's dashboard would.

pub mod format;
pub mod html;
pub mod mailer;
pub mod pdf;
pub mod view;
