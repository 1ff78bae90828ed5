//! `GET /api/openapi.json` (issue 26): an OpenAPI 3.1 document describing every route the
//! gateway serves. The routes are read from the gateway's source (every `.route(path,
//! methods)` it registers), so a route added without its description fails here; and
//! every described operation is asked over HTTP, so a description of a route that is not
//! served (a typo in a path, a method the router lacks) fails too.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use tally_tests::cluster::repo_root;
use tally_tests::Tally;

const METHODS: [&str; 7] = ["get", "post", "put", "delete", "patch", "options", "head"];

/// Every `(path, method)` the gateway's source registers with `.route("path", get(..).post(..))`.
fn registered_routes() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    let mut files = Vec::new();
    rust_files(&repo_root().join("gateway/src"), &mut files);
    for file in files {
        let source = std::fs::read_to_string(&file).expect("gateway source");
        for (at, _) in source.match_indices(".route(\"") {
            let rest = &source[at + ".route(\"".len()..];
            let path = &rest[..rest.find('"').expect("the path's closing quote")];
            let methods = call_arguments(&rest[path.len() + 1..]);
            let found: Vec<&str> = METHODS.iter().copied().filter(|m| calls(methods, m)).collect();
            assert!(!found.is_empty(), "{}: no method for {path} in {methods}", file.display());
            for method in found {
                routes.insert((path.to_owned(), method.to_owned()));
            }
        }
    }
    routes
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("gateway/src") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text up to the parenthesis closing `.route(`: the method router.
fn call_arguments(after_path: &str) -> &str {
    let mut depth = 1;
    for (i, c) in after_path.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &after_path[..i];
                }
            }
            _ => {}
        }
    }
    panic!("unclosed .route( call");
}

/// Whether `methods` calls `method(`: at its start (`get(`) or chained (`.post(`).
fn calls(methods: &str, method: &str) -> bool {
    methods.match_indices(&format!("{method}(")).any(|(i, _)| {
        let before = methods[..i].trim_end();
        before.is_empty() || before.ends_with(',') || before.ends_with('.')
    })
}

/// Every `(path, method)` the document describes.
fn described(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths is an object") {
        for method in METHODS {
            if item.get(method).is_some() {
                routes.insert((path.clone(), method.to_owned()));
            }
        }
    }
    routes
}

/// Checks the document's structure as OpenAPI 3.1 defines it: the version, info, every
/// operation answered with responses and named uniquely, every path parameter declared,
/// every `$ref` to a component that exists.
fn check_structure(doc: &Value) {
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")), "openapi: {}", doc["openapi"]);
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string(), "info: {}", doc["info"]);
    let schemas = doc["components"]["schemas"].as_object().expect("components.schemas");
    let error = &schemas["ErrorBody"]["properties"];
    assert!(error["error"].is_object() && error["field"].is_object(), "the error shape: {error}");
    for scheme in ["session", "bearer"] {
        assert!(doc["components"]["securitySchemes"][scheme].is_object(), "security scheme {scheme}");
    }
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let templated: BTreeSet<&str> = path.split('{').skip(1).map(|s| &s[..s.find('}').expect("closing brace")]).collect();
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}: no responses");
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            assert!(operation_ids.insert(id.to_owned()), "{method} {path}: operationId {id} is not unique");
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().expect("name")).collect())
                .unwrap_or_default();
            assert_eq!(declared, templated, "{method} {path}: path parameters");
        }
    }
    let mut refs = Vec::new();
    collect_refs(doc, &mut refs);
    assert!(refs.iter().any(|r| r == "#/components/schemas/ErrorBody"), "no operation answers with the error shape");
    for r in refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("$ref outside components: {r}"));
        assert!(schemas.contains_key(name), "$ref to a missing schema: {r}");
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_route_is_described_and_served() {
    let t = Tally::start().await;
    let (status, doc) = t.get("/api/openapi.json").await;
    assert_eq!(status, 200, "{doc}");
    check_structure(&doc);

    let registered = registered_routes();
    let documented = described(&doc);
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    assert!(undocumented.is_empty(), "routes the gateway serves without a description: {undocumented:?}");
    let unregistered: Vec<_> = documented.difference(&registered).collect();
    assert!(unregistered.is_empty(), "described routes the gateway does not register: {unregistered:?}");
    for must in [("/api/event", "post"), ("/api/v2/query", "post"), ("/api/openapi.json", "get"), ("/api/v1/events", "get")] {
        assert!(documented.contains(&(must.0.to_owned(), must.1.to_owned())), "{must:?} is not described");
    }

    // Asked without credentials, each described operation is answered by its handler:
    // never the router's 405, nor the static files' bare 404 for a path nothing serves.
    for (path, method) in &documented {
        let concrete: String = path
            .split('/')
            .map(|part| match part {
                "{file}" => "script.js",
                p if p.starts_with('{') => "1",
                p => p,
            })
            .collect::<Vec<_>>()
            .join("/");
        let url = format!("{}{concrete}", t.gateway.base);
        let method_name = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method");
        let mut request = t.gateway.http.request(method_name, &url);
        if matches!(method.as_str(), "post" | "put") {
            request = request.header("Content-Type", "application/json").body("{}");
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let body = response.text().await.expect("body");
        assert_ne!(status, 405, "{method} {path}: the router does not serve this method");
        assert!(status != 404 || !body.is_empty(), "{method} {path}: no route answered ({status}, empty body)");
    }
}

/// `GET /api/docs`: the description as a page to read, served by the gateway alone: every
/// operation on it, nothing loaded from elsewhere.
#[tokio::test]
async fn the_docs_page_shows_every_operation() {
    let t = Tally::start().await;
    let (_, doc) = t.get("/api/openapi.json").await;
    let response = t.gateway.http.get(format!("{}/api/docs", t.gateway.base)).send().await.expect("GET /api/docs");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("content type").to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = response.text().await.expect("page");
    for (path, method) in described(&doc) {
        let heading = format!("<code>{} {path}</code>", method.to_ascii_uppercase());
        assert!(page.contains(&heading), "{heading} is not on the page");
    }
    assert!(page.contains("<td><code>site_id</code></td>"), "the fields of the bodies are not listed");
    assert!(!page.contains("://") && !page.contains("<script"), "the page loads something");
}
