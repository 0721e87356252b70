//! Request bodies arrive in camelCase or snake_case; handlers read camelCase. Keys of
//! free-form JSON values (metadata the client owns) are left exactly as sent.

use serde_json::{Map, Value};

/// Fields whose values are the client's own JSON and must not be re-cased.
const FREE_FORM: &[&str] = &[
    "rawUserDefineMetadata",
    "queryMetadata",
    "contentPayload",
    "metadata",
    "outputFormat",
    "rawOutputFormat",
];

/// `number_of_retrieved_chunks` → `numberOfRetrievedChunks`; camelCase and keys such as
/// `x-amz-date` pass through unchanged.
pub fn to_camel(key: &str) -> String {
    if !key.contains('_') {
        return key.to_owned();
    }
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for (i, ch) in key.chars().enumerate() {
        if ch == '_' && i > 0 {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

/// Re-cases every key of a request body to camelCase, recursively, except inside free-form
/// values. When both spellings are sent, the camelCase one wins.
pub fn normalize(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(normalize_map(map)),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        other => other,
    }
}

fn normalize_map(map: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::with_capacity(map.len());
    let mut renamed = Vec::new();
    for (key, value) in map {
        let camel = to_camel(&key);
        let value = if FREE_FORM.contains(&camel.as_str()) { value } else { normalize(value) };
        if camel == key {
            out.insert(key, value);
        } else {
            renamed.push((camel, value));
        }
    }
    for (camel, value) in renamed {
        out.entry(camel).or_insert(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn snake_keys_become_camel_and_free_form_values_are_untouched() {
        let body = json!({
            "number_of_retrieved_chunks": 5,
            "isStreaming": true,
            "message": {"query_metadata": {"user_id": 1}, "content_text": "hi"},
            "raw_user_define_metadata": {"my_key": "v"},
            "x-amz-date": "20240101T000000Z",
            "items": [{"page_size": 1}]
        });
        assert_eq!(
            normalize(body),
            json!({
                "numberOfRetrievedChunks": 5,
                "isStreaming": true,
                "message": {"queryMetadata": {"user_id": 1}, "contentText": "hi"},
                "rawUserDefineMetadata": {"my_key": "v"},
                "x-amz-date": "20240101T000000Z",
                "items": [{"pageSize": 1}]
            })
        );
    }

    #[test]
    fn the_camel_spelling_wins_when_both_are_sent() {
        assert_eq!(
            normalize(json!({"is_streaming": false, "isStreaming": true})),
            json!({"isStreaming": true})
        );
        assert_eq!(to_camel("_private"), "_private");
    }
}
