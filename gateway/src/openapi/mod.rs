//! The OpenAPI 3.1 description of the HTTP API, served at `GET /api/openapi.json`.
//!
//! Each route module describes its own handlers (`#[utoipa::path]` beside the handler,
//! an `Api` listing them beside its `router()`), so a route and its description change
//! together; [`document`] merges them under one title, the error shape and the two ways
//! to authenticate. Handlers that read a body as `serde_json::Value` (the extension
//! checks it) are described by the documented types in [`schemas`].

pub mod schemas;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

use crate::auth::caller::SESSION_COOKIE;
use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tally",
        description = "Real-time web analytics in PostgreSQL: event ingestion (Plausible's Events API), stats queries \
                       (Plausible's Stats API v2 and Tally's v1) and the management API behind the dashboard. \
                       Every client error is answered with `{\"error\": message, \"field\": the field at fault}`."
    ),
    components(schemas(schemas::ErrorBody)),
    modifiers(&Authentication),
    security(("session" = []), ("bearer" = []))
)]
struct Root;

/// The two credentials the API accepts: the session cookie the dashboard's sign-in sets,
/// or an API key (`POST /api/v1/keys`) as a bearer token. Ingest keys are bearer tokens
/// too, for `POST /api/v1/events`.
struct Authentication;

impl Modify for Authentication {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))));
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

/// The whole description: every route module's paths under [`Root`].
pub fn document() -> Document {
    let mut doc = Root::openapi();
    for part in [
        routes::ingest::Api::openapi(),
        routes::events::Api::openapi(),
        routes::health::Api::openapi(),
        routes::metrics::Api::openapi(),
        routes::tracker::Api::openapi(),
        routes::query::Api::openapi(),
        routes::stats_v2::Api::openapi(),
        routes::alerts::Api::openapi(),
        routes::export::Api::openapi(),
        routes::realtime::Api::openapi(),
        routes::auth::Api::openapi(),
        routes::sites::Api::openapi(),
        routes::goals_api::Api::openapi(),
        routes::users::Api::openapi(),
        routes::keys::Api::openapi(),
        routes::audit::Api::openapi(),
        routes::goals::Api::openapi(),
        routes::funnels::Api::openapi(),
        routes::saved_segments::Api::openapi(),
        routes::property_keys::Api::openapi(),
        routes::share_links::Api::openapi(),
        routes::share::Api::openapi(),
        routes::report_pdf::Api::openapi(),
        routes::report_schedules::Api::openapi(),
        routes::imports::Api::openapi(),
        routes::openapi::Api::openapi(),
    ] {
        doc.merge(part);
    }
    name_operations(&mut doc);
    doc
}

/// Names each operation by its method and path (`post_api_v2_query`): handlers of
/// different modules share names (`list`, `run_query`), and OpenAPI wants them unique.
fn name_operations(doc: &mut Document) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let words: Vec<&str> = path.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
        let operations = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("options", &mut item.options),
            ("head", &mut item.head),
            ("patch", &mut item.patch),
            ("trace", &mut item.trace),
        ];
        for (method, operation) in operations {
            if let Some(operation) = operation {
                operation.operation_id = Some(format!("{method}_{}", words.join("_")));
            }
        }
    }
}
