//! Field-by-field validation of a request body in the manner of a DRF serializer: every
//! field is checked, all errors are collected under their field names with DRF's texts, and
//! the request fails once, at [`Form::finish`], with the whole list.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, FieldErrors, NON_FIELD_ERRORS};
use crate::wire::payload::Payload;
use openmai_types::messages as msg;

/// What a field held in the request.
#[derive(Debug, Clone, PartialEq)]
pub enum Input<T> {
    /// Not sent.
    Absent,
    /// Sent as `null` (only for nullable fields).
    Null,
    Set(T),
}

impl<T> Input<T> {
    /// The value to store: the new one when sent, `current` otherwise.
    pub fn or(self, current: T) -> T {
        match self {
            Input::Set(v) => v,
            Input::Absent | Input::Null => current,
        }
    }

    /// For nullable fields: `Some(None)` when set to null, `None` when not sent.
    pub fn nullable(self) -> Option<Option<T>> {
        match self {
            Input::Absent => None,
            Input::Null => Some(None),
            Input::Set(v) => Some(Some(v)),
        }
    }

    pub fn set(self) -> Option<T> {
        match self {
            Input::Set(v) => Some(v),
            _ => None,
        }
    }
}

/// Presence rules shared by every field type.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub required: bool,
    pub nullable: bool,
}

impl Rule {
    pub const REQUIRED: Rule = Rule { required: true, nullable: false };
    pub const OPTIONAL: Rule = Rule { required: false, nullable: false };
    pub const NULLABLE: Rule = Rule { required: false, nullable: true };
}

/// Rules for text fields (DRF `CharField`: whitespace is trimmed, blank refused by default).
#[derive(Debug, Clone, Copy)]
pub struct Text {
    pub rule: Rule,
    pub max_length: Option<usize>,
    pub min_length: Option<usize>,
    pub allow_blank: bool,
    pub trim: bool,
}

impl Text {
    pub const fn required(max_length: usize) -> Text {
        Text {
            rule: Rule::REQUIRED,
            max_length: Some(max_length),
            min_length: None,
            allow_blank: false,
            trim: true,
        }
    }

    pub const fn optional(max_length: usize) -> Text {
        Text { rule: Rule::OPTIONAL, ..Text::required(max_length) }
    }

    pub const fn blank(self) -> Text {
        Text { allow_blank: true, ..self }
    }

    pub const fn nullable(self) -> Text {
        Text { rule: Rule { nullable: true, ..self.rule }, ..self }
    }

    /// Passwords and templates keep their whitespace.
    pub const fn untrimmed(self) -> Text {
        Text { trim: false, ..self }
    }

    pub const fn unbounded(self) -> Text {
        Text { max_length: None, ..self }
    }

    pub const fn min(self, min_length: usize) -> Text {
        Text { min_length: Some(min_length), ..self }
    }
}

pub struct Form {
    data: Map<String, Value>,
    errors: FieldErrors,
    /// PATCH: nothing is required.
    partial: bool,
}

/// The Python type name DRF puts in its messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

impl Form {
    /// A form over a JSON-object body; anything else fails as DRF's serializers do.
    pub fn new(payload: Payload, partial: bool) -> ApiResult<Form> {
        match payload.0 {
            Value::Object(data) => Ok(Form { data, errors: FieldErrors::default(), partial }),
            Value::Null => Err(ApiError::non_field(msg::NO_DATA)),
            other => Err(ApiError::non_field(msg::not_a_dict(type_name(&other)))),
        }
    }

    pub fn is_partial(&self) -> bool {
        self.partial
    }

    /// Accepts `alias` as another name for `field` (e.g. `model` for `largeLanguageModel`).
    pub fn alias(&mut self, alias: &str, field: &str) {
        if let Some(value) = self.data.remove(alias) {
            self.data.entry(field.to_owned()).or_insert(value);
        }
    }

    pub fn has(&self, field: &str) -> bool {
        self.data.contains_key(field)
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.add(field, message);
    }

    pub fn non_field_error(&mut self, message: impl Into<String>) {
        self.errors.add(NON_FIELD_ERRORS, message);
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Fails with every collected error, or succeeds when there were none.
    pub fn finish(self) -> ApiResult<()> {
        if self.errors.is_empty() { Ok(()) } else { Err(ApiError::validation(self.errors)) }
    }

    /// The raw value after the presence checks: `None` means the caller has nothing to do
    /// (absent, null or an error was recorded).
    fn take(&mut self, field: &str, rule: Rule) -> Result<Value, Input<()>> {
        match self.data.remove(field) {
            None => {
                if rule.required && !self.partial {
                    self.errors.add(field, msg::REQUIRED);
                }
                Err(Input::Absent)
            }
            Some(Value::Null) => {
                if rule.nullable {
                    Err(Input::Null)
                } else {
                    self.errors.add(field, msg::NULL);
                    Err(Input::Absent)
                }
            }
            Some(value) => Ok(value),
        }
    }

    fn fail<T>(&mut self, field: &str, message: impl Into<String>) -> Input<T> {
        self.errors.add(field, message);
        Input::Absent
    }

    pub fn text(&mut self, field: &str, rules: Text) -> Input<String> {
        let value = match self.take(field, rules.rule) {
            Ok(v) => v,
            Err(Input::Null) => return Input::Null,
            Err(_) => return Input::Absent,
        };
        let raw = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            _ => return self.fail(field, msg::NOT_A_STRING),
        };
        let text = if rules.trim { raw.trim().to_owned() } else { raw };
        if text.is_empty() {
            if rules.allow_blank {
                return Input::Set(text);
            }
            if rules.rule.nullable {
                return Input::Null;
            }
            return self.fail(field, msg::BLANK);
        }
        let length = text.chars().count();
        if let Some(max) = rules.max_length.filter(|max| length > *max) {
            return self.fail(field, msg::max_length(max));
        }
        if let Some(min) = rules.min_length.filter(|min| length < *min) {
            return self.fail(field, msg::min_length(min));
        }
        Input::Set(text)
    }

    pub fn email(&mut self, field: &str, rules: Text) -> Input<String> {
        match self.text(field, rules) {
            Input::Set(email) if !email.is_empty() && !is_email(&email) => {
                self.fail(field, msg::NOT_AN_EMAIL)
            }
            other => other,
        }
    }

    /// An absolute `http(s)` URL.
    pub fn url(&mut self, field: &str, rules: Text) -> Input<String> {
        match self.text(field, rules) {
            Input::Set(url) if !url.is_empty() && !is_web_url(&url) => {
                self.fail(field, msg::NOT_A_URL)
            }
            other => other,
        }
    }

    pub fn uuid(&mut self, field: &str, rule: Rule) -> Input<Uuid> {
        match self.take(field, rule) {
            Ok(Value::String(s)) => match Uuid::parse_str(s.trim()) {
                Ok(id) => Input::Set(id),
                Err(_) => self.fail(field, msg::NOT_A_UUID),
            },
            Ok(_) => self.fail(field, msg::NOT_A_UUID),
            Err(Input::Null) => Input::Null,
            Err(_) => Input::Absent,
        }
    }

    /// A related object by id (DRF's `PrimaryKeyRelatedField`): a UUID that `exists` must
    /// know. Checked here, so its error takes the field's place in the order.
    pub fn related(
        &mut self,
        field: &str,
        rule: Rule,
        exists: impl FnOnce(Uuid) -> bool,
    ) -> Input<Uuid> {
        match self.uuid(field, rule) {
            Input::Set(id) if !exists(id) => self.fail(field, msg::does_not_exist(&id.to_string())),
            other => other,
        }
    }

    /// DRF's lenient booleans: `true`, `"true"`, `"yes"`, `1`, `"on"`… and their opposites.
    pub fn boolean(&mut self, field: &str, rule: Rule) -> Input<bool> {
        let value = match self.take(field, rule) {
            Ok(v) => v,
            Err(Input::Null) => return Input::Null,
            Err(_) => return Input::Absent,
        };
        let parsed = match &value {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => match n.as_i64() {
                Some(1) => Some(true),
                Some(0) => Some(false),
                _ => None,
            },
            Value::String(s) => match s.as_str() {
                "t" | "T" | "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on"
                | "On" | "ON" | "1" => Some(true),
                "f" | "F" | "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE"
                | "off" | "Off" | "OFF" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        };
        match parsed {
            Some(b) => Input::Set(b),
            None => self.fail(field, msg::NOT_A_BOOLEAN),
        }
    }

    /// Integers, also as strings (`"12"`) or integral floats (`12.0`), within `min..=max`.
    pub fn integer(&mut self, field: &str, rule: Rule, min: i64, max: i64) -> Input<i64> {
        let value = match self.take(field, rule) {
            Ok(v) => v,
            Err(Input::Null) => return Input::Null,
            Err(_) => return Input::Absent,
        };
        let parsed = match &value {
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64)
            }),
            Value::String(s) => {
                let s = s.trim();
                let s = s.strip_suffix(".0").unwrap_or(s);
                s.parse::<i64>().ok()
            }
            _ => None,
        };
        match parsed {
            None => self.fail(field, msg::NOT_AN_INTEGER),
            Some(n) if n > max => self.fail(field, msg::max_value(max)),
            Some(n) if n < min => self.fail(field, msg::min_value(min)),
            Some(n) => Input::Set(n),
        }
    }

    /// A number (DRF `FloatField`), also as a string, within `min..=max`.
    pub fn float(&mut self, field: &str, rule: Rule, min: f64, max: f64) -> Input<f64> {
        let value = match self.take(field, rule) {
            Ok(v) => v,
            Err(Input::Null) => return Input::Null,
            Err(_) => return Input::Absent,
        };
        let parsed = match &value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match parsed.filter(|f| f.is_finite()) {
            None => self.fail(field, msg::NOT_A_NUMBER),
            Some(f) if f > max => self.fail(field, msg::max_value_float(max)),
            Some(f) if f < min => self.fail(field, msg::min_value_float(min)),
            Some(f) => Input::Set(f),
        }
    }

    pub fn choice(&mut self, field: &str, rule: Rule, choices: &[&str]) -> Input<String> {
        let value = match self.take(field, rule) {
            Ok(v) => v,
            Err(Input::Null) => return Input::Null,
            Err(_) => return Input::Absent,
        };
        let text = match &value {
            Value::String(s) => s.clone(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            other => other.to_string(),
        };
        if choices.contains(&text.as_str()) {
            Input::Set(text)
        } else {
            self.fail(field, msg::invalid_choice(&text))
        }
    }

    /// Any JSON value, kept as sent.
    pub fn json(&mut self, field: &str, rule: Rule) -> Input<Value> {
        match self.take(field, rule) {
            Ok(v) => Input::Set(v),
            Err(Input::Null) => Input::Null,
            Err(_) => Input::Absent,
        }
    }

    /// Related objects by id: a list of ids or of `{"id": …}` objects. An item that is not a
    /// UUID cannot name an object, so it reads as DRF's `does_not_exist`.
    pub fn id_list(&mut self, field: &str, rule: Rule) -> Input<Vec<Uuid>> {
        let value = match self.take(field, rule) {
            Ok(v) => v,
            Err(Input::Null) => return Input::Null,
            Err(_) => return Input::Absent,
        };
        let Value::Array(items) = value else {
            return self.fail(field, msg::not_a_list(type_name(&value)));
        };
        let mut ids = Vec::with_capacity(items.len());
        for item in items {
            let raw = match &item {
                Value::String(s) => s.clone(),
                Value::Object(obj) => match obj.get("id") {
                    Some(Value::String(s)) => s.clone(),
                    _ => return self.fail(field, msg::incorrect_pk_type("dict")),
                },
                other => return self.fail(field, msg::incorrect_pk_type(type_name(other))),
            };
            match Uuid::parse_str(raw.trim()) {
                Ok(id) if !ids.contains(&id) => ids.push(id),
                Ok(_) => {}
                Err(_) => return self.fail(field, msg::does_not_exist(&raw)),
            }
        }
        Input::Set(ids)
    }
}

impl Form {
    /// Like [`Form::id_list`], but entries that are not UUIDs (or `{"id": UUID}`) are skipped
    /// rather than refused: for label lists, where clients send placeholders such as
    /// `{"id": "label-id"}` and a label that does not exist must not fail the request.
    pub fn loose_id_list(&mut self, field: &str, rule: Rule) -> Input<Vec<Uuid>> {
        let value = match self.take(field, rule) {
            Ok(v) => v,
            Err(Input::Null) => return Input::Null,
            Err(_) => return Input::Absent,
        };
        let Value::Array(items) = value else {
            return self.fail(field, msg::not_a_list(type_name(&value)));
        };
        let mut ids = Vec::with_capacity(items.len());
        for item in &items {
            let raw = match item {
                Value::String(s) => Some(s.as_str()),
                Value::Object(obj) => obj.get("id").and_then(Value::as_str),
                _ => None,
            };
            if let Some(id) = raw.and_then(|r| Uuid::parse_str(r.trim()).ok())
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
        Input::Set(ids)
    }
}

/// Django's `EmailValidator` in spirit: one `@`, a sensible local part and a dotted domain
/// (or `localhost`).
pub fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else { return false };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = (domain == "localhost" || labels.len() >= 2)
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    local_ok && domain_ok && email.len() <= 254
}

pub fn is_web_url(url: &str) -> bool {
    url::Url::parse(url)
        .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn form(body: Value, partial: bool) -> Form {
        Form::new(Payload(body), partial).unwrap()
    }

    fn errors(form: Form) -> Value {
        match form.finish() {
            Ok(()) => json!({}),
            Err(err) => serde_json::to_value(err.field_errors().unwrap()).unwrap(),
        }
    }

    #[test]
    fn collects_every_error_with_drf_texts() {
        let mut f = form(
            json!({"name": "  ", "count": "x", "flag": "maybe", "id": 5, "mode": "fast", "kb": "a"}),
            false,
        );
        assert_eq!(f.text("name", Text::required(10)), Input::Absent);
        assert_eq!(f.integer("count", Rule::OPTIONAL, 1, 5), Input::Absent);
        assert_eq!(f.boolean("flag", Rule::OPTIONAL), Input::Absent);
        assert_eq!(f.uuid("id", Rule::OPTIONAL), Input::Absent);
        assert_eq!(f.choice("mode", Rule::OPTIONAL, &["normal"]), Input::Absent);
        assert_eq!(f.id_list("kb", Rule::OPTIONAL), Input::Absent);
        assert_eq!(f.text("missing", Text::required(10)), Input::Absent);
        assert_eq!(
            errors(f),
            json!({
                "name": ["This field may not be blank."],
                "count": ["A valid integer is required."],
                "flag": ["Must be a valid boolean."],
                "id": ["Must be a valid UUID."],
                "mode": ["\"fast\" is not a valid choice."],
                "kb": ["Expected a list of items but got type \"str\"."],
                "missing": ["This field is required."]
            })
        );
    }

    #[test]
    fn lengths_ranges_and_nulls() {
        let mut f =
            form(json!({"name": "abcdef", "n": 0, "m": "7", "nul": null, "opt": null}), false);
        assert_eq!(f.text("name", Text::required(5)), Input::Absent);
        assert_eq!(f.integer("n", Rule::OPTIONAL, 1, 5), Input::Absent);
        assert_eq!(f.integer("m", Rule::OPTIONAL, 1, 5), Input::Absent);
        assert_eq!(f.text("nul", Text::required(5)), Input::Absent);
        assert_eq!(f.text("opt", Text::optional(5).nullable()), Input::Null);
        assert_eq!(
            errors(f),
            json!({
                "name": ["Ensure this field has no more than 5 characters."],
                "n": ["Ensure this value is greater than or equal to 1."],
                "m": ["Ensure this value is less than or equal to 5."],
                "nul": ["This field may not be null."]
            })
        );
    }

    #[test]
    fn floats_accept_numbers_and_numeric_strings_within_range() {
        let mut f = form(json!({"a": 0.5, "b": "0.25", "c": 2, "d": "x", "e": -1}), false);
        assert_eq!(f.float("a", Rule::OPTIONAL, 0.0, 1.0), Input::Set(0.5));
        assert_eq!(f.float("b", Rule::OPTIONAL, 0.0, 1.0), Input::Set(0.25));
        assert_eq!(f.float("c", Rule::OPTIONAL, 0.0, 1.0), Input::Absent);
        assert_eq!(f.float("d", Rule::OPTIONAL, 0.0, 1.0), Input::Absent);
        assert_eq!(f.float("e", Rule::OPTIONAL, 0.0, 1.0), Input::Absent);
        assert_eq!(
            errors(f),
            json!({
                "c": ["Ensure this value is less than or equal to 1.0."],
                "d": ["A valid number is required."],
                "e": ["Ensure this value is greater than or equal to 0.0."]
            })
        );
    }

    #[test]
    fn lenient_inputs_are_coerced_like_drf() {
        let mut f = form(
            json!({"a": "yes", "b": 0, "c": " 12 ", "d": 3.0, "e": 42, "ids": [
                "6f1c1d55-3c1e-4c55-9d0b-6f70656e6d61", {"id": "6f1c1d55-3c1e-4c55-9d0b-6f70656e6d61"}
            ]}),
            false,
        );
        assert_eq!(f.boolean("a", Rule::OPTIONAL), Input::Set(true));
        assert_eq!(f.boolean("b", Rule::OPTIONAL), Input::Set(false));
        assert_eq!(f.integer("c", Rule::OPTIONAL, 0, 100), Input::Set(12));
        assert_eq!(f.integer("d", Rule::OPTIONAL, 0, 100), Input::Set(3));
        assert_eq!(f.text("e", Text::optional(5)), Input::Set("42".into()));
        assert_eq!(f.id_list("ids", Rule::OPTIONAL).set().map(|v| v.len()), Some(1));
        f.finish().unwrap();
    }

    #[test]
    fn partial_forms_require_nothing_and_aliases_fill_in() {
        let mut f = form(json!({"model": "x"}), true);
        f.alias("model", "largeLanguageModel");
        assert_eq!(f.text("name", Text::required(5)), Input::Absent);
        assert_eq!(f.text("largeLanguageModel", Text::required(5)), Input::Set("x".into()));
        f.finish().unwrap();
    }

    #[test]
    fn related_ids_must_exist() {
        let known = Uuid::from_u128(1);
        let mut f =
            form(json!({"a": known.to_string(), "b": Uuid::from_u128(2).to_string()}), false);
        assert_eq!(f.related("a", Rule::REQUIRED, |id| id == known), Input::Set(known));
        assert_eq!(f.related("b", Rule::REQUIRED, |id| id == known), Input::Absent);
        assert_eq!(
            errors(f),
            json!({"b": ["Invalid pk \"00000000-0000-0000-0000-000000000002\" - object does not exist."]})
        );
    }

    #[test]
    fn non_objects_are_refused_whole() {
        let err = Form::new(Payload(json!([1, 2])), false).err().unwrap();
        assert_eq!(
            serde_json::to_value(err.field_errors().unwrap()).unwrap(),
            json!({"nonFieldErrors": ["Invalid data. Expected a dictionary, but got list."]})
        );
        let err = Form::new(Payload(Value::Null), false).err().unwrap();
        assert_eq!(
            serde_json::to_value(err.field_errors().unwrap()).unwrap(),
            json!({"nonFieldErrors": ["No data provided"]})
        );
    }

    #[test]
    fn emails_and_urls() {
        assert!(is_email("alice@example.com") && is_email("a.b+c@sub.example.tw"));
        assert!(is_email("admin@localhost"));
        assert!(!is_email("alice") && !is_email("a@b") && !is_email("a b@example.com"));
        assert!(!is_email("@example.com") && !is_email("a@-x.com"));
        assert!(is_web_url("https://hooks.example.com/x?y=1"));
        assert!(!is_web_url("ftp://x.com") && !is_web_url("not a url") && !is_web_url("http://"));
    }
}
