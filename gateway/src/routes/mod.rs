//! HTTP routes, one file per resource; `app` merges them.

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod events;
pub mod export;
pub mod funnels;
pub mod goals;
pub mod goals_api;
pub mod health;
pub mod ingest;
pub mod json_body;
pub mod keys;
pub mod metrics;
pub mod property_keys;
pub mod query;
pub mod realtime;
pub mod report_pdf;
pub mod report_schedules;
pub mod saved_segments;
pub mod share;
pub mod share_links;
pub mod site_items;
pub mod sites;
pub mod stats_v2;
pub mod tracker;
pub mod users;
