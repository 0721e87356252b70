//! Django REST Framework's validation texts, word for word, so that field errors read exactly
//! as a MaiAgent client expects them.

pub const REQUIRED: &str = "This field is required.";
pub const NULL: &str = "This field may not be null.";
pub const BLANK: &str = "This field may not be blank.";
pub const NOT_A_STRING: &str = "Not a valid string.";
pub const NOT_A_BOOLEAN: &str = "Must be a valid boolean.";
pub const NOT_AN_INTEGER: &str = "A valid integer is required.";
pub const NOT_A_NUMBER: &str = "A valid number is required.";
pub const NOT_A_UUID: &str = "Must be a valid UUID.";
pub const NOT_A_URL: &str = "Enter a valid URL.";
pub const NOT_AN_EMAIL: &str = "Enter a valid email address.";
pub const EMPTY_LIST: &str = "This list may not be empty.";
pub const PASSWORD_MISMATCH: &str = "The two password fields didn’t match.";
/// A serializer given `null` instead of an object (DRF's `Serializer.errors` edge case).
pub const NO_DATA: &str = "No data provided";
pub const LOGIN_FAILED: &str = "Unable to log in with provided credentials.";
/// django-filter's text for a filter value (`?conversation=`, `?inbox=`) that names nothing.
pub const INVALID_FILTER_CHOICE: &str =
    "Select a valid choice. That choice is not one of the available choices.";

pub fn max_length(max: usize) -> String {
    format!("Ensure this field has no more than {max} characters.")
}

pub fn min_length(min: usize) -> String {
    format!("Ensure this field has at least {min} characters.")
}

pub fn max_value(max: i64) -> String {
    format!("Ensure this value is less than or equal to {max}.")
}

pub fn min_value(min: i64) -> String {
    format!("Ensure this value is greater than or equal to {min}.")
}

/// Python prints whole floats with a `.0`, and so does DRF.
fn python_float(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e16 {
        format!("{value:.1}")
    } else {
        value.to_string()
    }
}

pub fn max_value_float(max: f64) -> String {
    format!("Ensure this value is less than or equal to {}.", python_float(max))
}

pub fn min_value_float(min: f64) -> String {
    format!("Ensure this value is greater than or equal to {}.", python_float(min))
}

pub fn invalid_choice(input: &str) -> String {
    format!("\"{input}\" is not a valid choice.")
}

pub fn does_not_exist(pk: &str) -> String {
    format!("Invalid pk \"{pk}\" - object does not exist.")
}

pub fn incorrect_pk_type(type_name: &str) -> String {
    format!("Incorrect type. Expected pk value, received {type_name}.")
}

pub fn not_a_list(type_name: &str) -> String {
    format!("Expected a list of items but got type \"{type_name}\".")
}

pub fn not_a_dict(type_name: &str) -> String {
    format!("Invalid data. Expected a dictionary, but got {type_name}.")
}

pub fn unique(model: &str, field: &str) -> String {
    format!("{model} with this {field} already exists.")
}

pub fn pattern_mismatch() -> &'static str {
    "This value does not match the required pattern."
}

pub fn method_not_allowed(method: &str) -> String {
    format!("Method \"{method}\" not allowed.")
}

pub fn unsupported_media_type(media_type: &str) -> String {
    format!("Unsupported media type \"{media_type}\" in request.")
}

pub fn json_parse_error(reason: &str) -> String {
    format!("JSON parse error - {reason}")
}

/// DRF's throttle text, singular for one second.
pub fn throttled(wait_seconds: u64) -> String {
    let unit = if wait_seconds == 1 { "second" } else { "seconds" };
    format!("Request was throttled. Expected available in {wait_seconds} {unit}.")
}
