//! A JSON Schema (schemars' draft 2020-12, or an OpenAPI 3.1 document's
//! components) as Markdown: one table of fields for the root and one for
//! each definition it refers to, a reference becoming a link to its
//! section.

use serde_json::{Map, Value};

/// A JSON object's entries by key, whichever order serde_json keeps them
/// in: with its `preserve_order` feature, which a crate elsewhere in the
/// build may turn on, it keeps the file's, so a page would depend on what
/// else was built.
pub fn by_key(map: Option<&Map<String, Value>>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.into_iter().flatten().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// The root object's fields, then every definition in `defs`, each under
/// a heading of `level` `#`s.
pub fn markdown(root: &Value, defs: Option<&Map<String, Value>>, level: usize) -> String {
    let mut out = String::new();
    if let Some(text) = root.get("description").and_then(Value::as_str) {
        out.push_str(&format!("{}\n\n", one_paragraph(text)));
    }
    out.push_str(&fields(root));
    for (name, def) in by_key(defs) {
        out.push_str(&format!("\n{} {name}\n\n", "#".repeat(level)));
        out.push_str(&definition(def));
    }
    out
}

/// One definition: its description, then its fields, its values (an enum)
/// or its type.
pub fn definition(def: &Value) -> String {
    let mut out = String::new();
    if let Some(text) = def.get("description").and_then(Value::as_str) {
        out.push_str(&format!("{}\n\n", one_paragraph(text)));
    }
    if def.get("properties").is_some() {
        out.push_str(&fields(def));
    } else if let Some(variants) = def.get("oneOf").or_else(|| def.get("anyOf")) {
        out.push_str("One of:\n\n");
        for v in variants.as_array().into_iter().flatten() {
            let about = v
                .get("description")
                .and_then(Value::as_str)
                .map(|d| format!(": {}", cell(d)))
                .unwrap_or_default();
            out.push_str(&format!("- {}{about}\n", type_of(v)));
        }
    } else {
        out.push_str(&format!("Type: {}\n", type_of(def)));
    }
    out
}

/// The fields of an object schema as a table.
fn fields(schema: &Value) -> String {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return String::new();
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut out = String::from("| Field | Type | Required | Meaning |\n|---|---|---|---|\n");
    for (name, prop) in by_key(Some(props)) {
        let mut about = prop
            .get("description")
            .and_then(Value::as_str)
            .map(cell)
            .unwrap_or_default();
        for (key, label) in [
            ("default", "default"),
            ("minimum", "at least"),
            ("maximum", "at most"),
        ] {
            if let Some(v) = prop.get(key) {
                about.push_str(&format!(" ({label} `{v}`)"));
            }
        }
        let needed = if required.contains(&name.as_str()) {
            "yes"
        } else {
            "no"
        };
        out.push_str(&format!(
            "| `{name}` | {} | {needed} | {} |\n",
            type_of(prop),
            about.trim()
        ));
    }
    out
}

/// A schema's type in a few words: `integer`, `string or null`,
/// `array of [Line](#line)`, `one of "a", "b"`.
pub fn type_of(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("[{name}](#{})", name.to_lowercase());
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
        return format!("one of {}", values.join(", "));
    }
    if let Some(value) = schema.get("const") {
        return format!("`{value}`");
    }
    if let Some(variants) = schema.get("anyOf").or_else(|| schema.get("oneOf")) {
        let kinds: Vec<String> = variants
            .as_array()
            .into_iter()
            .flatten()
            .map(type_of)
            .collect();
        return kinds.join(" or ");
    }
    let kinds: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let words: Vec<String> = kinds
        .iter()
        .map(|kind| match *kind {
            "array" => match schema.get("items") {
                Some(items) => format!("array of {}", type_of(items)),
                None => "array".to_owned(),
            },
            "object" => match schema.get("additionalProperties") {
                Some(values @ Value::Object(_)) => format!("map to {}", type_of(values)),
                _ => "object".to_owned(),
            },
            other => other.to_owned(),
        })
        .collect();
    if words.is_empty() {
        "any".to_owned()
    } else {
        words.join(" or ")
    }
}

/// Text fit for a table cell: one line, pipes escaped.
pub fn cell(text: &str) -> String {
    one_paragraph(text).replace('|', "\\|")
}

/// Doc-comment text (hard-wrapped lines, rustdoc links) as one paragraph.
fn one_paragraph(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // rustdoc's intra-doc links (`[`Type::item`]`) mean nothing in the book.
    joined.replace("[`", "`").replace("`]", "`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_schema_reads_as_tables_with_links_between_definitions() {
        let root = json!({
            "description": "A settings\nfile.",
            "type": "object",
            "required": ["lines"],
            "properties": {
                "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}, "description": "What | is sold."},
                "note": {"type": ["string", "null"], "default": "none"}
            },
            "$defs": {"Line": {"type": "string", "enum": ["a", "b"]}}
        });
        let text = markdown(&root, root.get("$defs").and_then(Value::as_object), 2);
        assert!(text.starts_with("A settings file.\n"), "{text}");
        assert!(
            text.contains("| `lines` | array of [Line](#line) | yes | What \\| is sold. |"),
            "{text}"
        );
        assert!(
            text.contains("| `note` | string or null | no | (default `\"none\"`) |"),
            "{text}"
        );
        assert!(
            text.contains("## Line\n\nType: one of `\"a\"`, `\"b\"`"),
            "{text}"
        );
    }
}
