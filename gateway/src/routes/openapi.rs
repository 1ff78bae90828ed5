//! The API's documentation, public and built once on the first request:
//! - `GET /api/openapi.json`: the OpenAPI 3.1 description ([`crate::openapi`]);
//! - `GET /api/docs`: the same, as a page to read: operations by tag with their
//!   parameters, bodies (the fields of their schemas) and answers. Rendered here from
//!   the description, plain HTML without scripts, so it needs nothing but the gateway.

use std::sync::LazyLock;

use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use maud::{html, Markup, DOCTYPE};
use serde_json::Value;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi)).route("/api/docs", get(docs))
}

/// The OpenAPI description of the routes above ([`crate::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(openapi, docs))]
pub struct Api;

static DOCUMENT: LazyLock<Value> =
    LazyLock::new(|| serde_json::to_value(crate::openapi::document()).expect("the OpenAPI document serializes"));

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    summary = "This description of the API (OpenAPI 3.1)",
    responses((status = 200, description = "The OpenAPI document", body = serde_json::Value)),
    security(())
)]
async fn openapi() -> impl IntoResponse {
    Json(&*DOCUMENT)
}

static DOCS: LazyLock<String> = LazyLock::new(|| render(&DOCUMENT).into_string());

#[utoipa::path(
    get,
    path = "/api/docs",
    tag = "operations",
    summary = "This description of the API, as a page to read",
    responses((status = 200, description = "The documentation page", body = String, content_type = "text/html")),
    security(())
)]
async fn docs() -> impl IntoResponse {
    Html(DOCS.as_str())
}

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "options"];

fn render(doc: &Value) -> Markup {
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    let mut tags: Vec<&str> = Vec::new();
    for item in doc["paths"].as_object().into_iter().flat_map(|p| p.values()) {
        for method in METHODS {
            if let Some(tag) = item[method]["tags"][0].as_str() {
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
        }
    }
    tags.sort_unstable();
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { (title) " API" } }
            body {
                h1 { (title) " API " small { (doc["info"]["version"].as_str().unwrap_or_default()) } }
                p { (doc["info"]["description"].as_str().unwrap_or_default()) }
                p {
                    "Machine-readable: " a href="/api/openapi.json" { "/api/openapi.json" } " (OpenAPI " (doc["openapi"].as_str().unwrap_or_default()) "). "
                    "Authenticate with the session cookie of a sign-in or an API key as "
                    code { "Authorization: Bearer <key>" } "."
                }
                nav { ul { @for tag in &tags { li { a href=(format!("#{tag}")) { (tag) } } } } }
                @for tag in &tags {
                    section id=(tag) {
                        h2 { (tag) }
                        @for (path, item) in doc["paths"].as_object().into_iter().flatten() {
                            @for method in METHODS {
                                @if item[method]["tags"][0].as_str() == Some(*tag) {
                                    (operation(doc, method, path, &item[method]))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn operation(doc: &Value, method: &str, path: &str, op: &Value) -> Markup {
    let public = op["security"].as_array().is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(|r| r.is_empty())));
    let body = op["requestBody"]["content"].as_object().and_then(|c| c.iter().next());
    html! {
        article id=(op["operationId"].as_str().unwrap_or_default()) {
            h3 { code { (method.to_ascii_uppercase()) " " (path) } }
            p { (op["summary"].as_str().unwrap_or_default()) @if public { " (no credentials)" } }
            @if let Some(params) = op["parameters"].as_array() {
                table {
                    caption { "Parameters" }
                    tr { th { "name" } th { "in" } th { "required" } th { "description" } }
                    @for p in params {
                        tr {
                            td { code { (p["name"].as_str().unwrap_or_default()) } }
                            td { (p["in"].as_str().unwrap_or_default()) }
                            td { @if p["required"] == true { "yes" } @else { "no" } }
                            td { (p["description"].as_str().unwrap_or_default()) }
                        }
                    }
                }
            }
            @if let Some((media, content)) = body {
                p { "Body (" (media) "): " (schema_name(&content["schema"])) }
                (fields(doc, &content["schema"]))
            }
            dl {
                @for (status, response) in op["responses"].as_object().into_iter().flatten() {
                    dt { (status) }
                    dd { (response["description"].as_str().unwrap_or_default()) }
                }
            }
        }
    }
}

/// The component a schema refers to (`StatsQuery`), or its array of one (`[BatchEvent]`).
fn schema_name(schema: &Value) -> String {
    match (schema["$ref"].as_str(), schema["items"]["$ref"].as_str()) {
        (Some(r), _) => r.rsplit('/').next().unwrap_or(r).to_owned(),
        (None, Some(r)) => format!("[{}]", r.rsplit('/').next().unwrap_or(r)),
        _ => "JSON".to_owned(),
    }
}

/// The fields of a body's schema: name, type, whether required, what it is.
fn fields(doc: &Value, schema: &Value) -> Markup {
    let reference = schema["$ref"].as_str().or(schema["items"]["$ref"].as_str());
    let component = reference.and_then(|r| r.rsplit('/').next()).map(|name| &doc["components"]["schemas"][name]);
    let required: Vec<&str> =
        component.and_then(|c| c["required"].as_array()).map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    html! {
        @if let Some(component) = component {
            @if let Some(description) = component["description"].as_str() { p { (description) } }
            table {
                tr { th { "field" } th { "type" } th { "required" } th { "description" } }
                @for (name, field) in component["properties"].as_object().into_iter().flatten() {
                    tr {
                        td { code { (name) } }
                        td { (type_of(field)) }
                        td { @if required.contains(&name.as_str()) { "yes" } @else { "no" } }
                        td { (field["description"].as_str().unwrap_or_default()) }
                    }
                }
            }
        }
    }
}

fn type_of(field: &Value) -> String {
    let single = |t: &Value| match t {
        Value::String(s) => s.clone(),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect::<Vec<_>>().join(" | "),
        _ => "any".to_owned(),
    };
    match single(&field["type"]).as_str() {
        "array" => match field["items"]["$ref"].as_str() {
            Some(r) => format!("array of {}", r.rsplit('/').next().unwrap_or(r)),
            None => format!("array of {}", single(&field["items"]["type"])),
        },
        other => other.to_owned(),
    }
}
