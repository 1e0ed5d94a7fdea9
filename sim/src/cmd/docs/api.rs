//! The HTTP API's page, from the OpenAPI document `GET /openapi.json`
//! serves: each route with its parameters, body and answers, then each
//! type.

use serde_json::Value;

use super::schema::{self, cell};

pub fn markdown() -> anyhow::Result<String> {
    let doc = serde_json::to_value(engine::http::openapi())?;
    let mut out = String::from(
        "The API `sim serve` serves and the deployed stack's API Gateway routes, as its OpenAPI \
         3.1 document (`GET /openapi.json`) describes it. A bad request is answered 400 with \
         `{\"message\", \"field\"}` naming the field; a body over 64 KiB is answered 413, a \
         request not read in full within 10 s 408.\n",
    );
    let paths = doc.get("paths").and_then(Value::as_object);
    for (path, ops) in schema::by_key(paths) {
        for (method, op) in schema::by_key(ops.as_object()) {
            out.push_str(&route(path, method, op));
        }
    }
    out.push_str("\n## Types\n");
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object);
    for (name, def) in schema::by_key(schemas) {
        out.push_str(&format!("\n### {name}\n\n{}", schema::definition(def)));
    }
    Ok(out)
}

fn route(path: &str, method: &str, op: &Value) -> String {
    let mut out = format!("\n## `{} {path}`\n\n", method.to_uppercase());
    if let Some(text) = op
        .get("description")
        .or_else(|| op.get("summary"))
        .and_then(Value::as_str)
    {
        out.push_str(&format!("{}\n\n", cell(text)));
    }
    let params = op.get("parameters").and_then(Value::as_array);
    if params.is_some_and(|p| !p.is_empty()) {
        out.push_str("| Parameter | In | Type | Required | Meaning |\n|---|---|---|---|---|\n");
        for p in params.into_iter().flatten() {
            let text = |key| p.get(key).and_then(Value::as_str).unwrap_or("");
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                text("name"),
                text("in"),
                p.get("schema").map_or("any".to_owned(), schema::type_of),
                if p.get("required").and_then(Value::as_bool) == Some(true) {
                    "yes"
                } else {
                    "no"
                },
                cell(text("description"))
            ));
        }
        out.push('\n');
    }
    if let Some(body) = op.pointer("/requestBody/content") {
        out.push_str(&format!("Body: {}\n\n", content(body)));
    }
    out.push_str("| Status | Meaning | Body |\n|---|---|---|\n");
    let responses = op.get("responses").and_then(Value::as_object);
    for (status, answer) in schema::by_key(responses) {
        let about = answer
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("");
        let body = answer.get("content").map_or(String::new(), content);
        out.push_str(&format!("| {status} | {} | {body} |\n", cell(about)));
    }
    out
}

/// A content map's media types and their schemas.
fn content(content: &Value) -> String {
    let kinds: Vec<String> = schema::by_key(content.as_object())
        .into_iter()
        .map(|(media, v)| match v.get("schema") {
            Some(s) => format!("{} (`{media}`)", schema::type_of(s)),
            None => format!("`{media}`"),
        })
        .collect();
    kinds.join("; ")
}
