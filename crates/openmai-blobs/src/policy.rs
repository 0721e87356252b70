//! The AWS Signature Version 4 POST policy: signing it (what `upload-presigned-url/` hands out)
//! and verifying it (what OpenMai's own storage endpoint does on the embedded default, exactly
//! as S3 would).
//!
//! No Rust crate signs S3 POST policies (object_store, rusty-s3 and aws-sdk-s3 have none), so
//! this is written from AWS's documentation:
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html> and
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-authentication-HTTPPOST.html>, and is
//! tested against AWS's published example
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-post-example.html>).
//!
//! The signature is `hex(HMAC-SHA256(signing_key, policy_base64))`, where the string to sign is
//! the base64 policy *exactly as sent in the form* and the signing key is the usual SigV4 chain
//! `HMAC("AWS4" + secret, yyyymmdd) → region → "s3" → "aws4_request"`.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::BlobError;

/// The only algorithm SigV4 POST policies use.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// S3's ceiling for a single POST upload (5 GiB). A policy without a `content-length-range`
/// still cannot upload more than this to S3, so [`verify_post`] applies the same bound.
pub const S3_MAX_POST_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// S3's limit on the length of an object key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// The form fields that never need a policy condition (AWS: "each form field that you specify
/// in a form (except x-amz-signature, file, policy, and field names that have an x-ignore-
/// prefix) must appear in the list of conditions").
const EXEMPT_FIELDS: [&str; 3] = ["policy", "x-amz-signature", "file"];

type HmacSha256 = Hmac<Sha256>;

/// Access key and secret that sign (and, on the local store, verify) POST policies.
///
/// For S3 these are the real bucket credentials, since S3 checks the signature. For the local
/// store they only need to be consistent between signing and verifying; the secret should be
/// random and private, because whoever knows it can mint upload forms.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// The region in the credential scope (`us-east-1` for moto, s3rver and most MinIO setups).
    pub region: String,
}

/// A signed POST policy that passed [`verify_post`]: which key the upload goes to and how big
/// the file may be, so the caller can bound the file part while streaming it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedPolicy {
    /// The object key from the form (the policy's conditions allowed it).
    pub key: String,
    /// Smallest allowed file size in bytes (from `content-length-range`, else 0).
    pub min_bytes: u64,
    /// Largest allowed file size in bytes (from `content-length-range`, else
    /// [`S3_MAX_POST_BYTES`]).
    pub max_bytes: u64,
    /// When the policy stops being accepted.
    pub expires_at: OffsetDateTime,
}

/// Why a POST upload was refused, with the status, code and message S3 itself would answer,
/// so clients written against S3/MinIO see the same thing from OpenMai's storage endpoint.
///
/// The codes are S3's (<https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>);
/// the messages are S3's wording where it is known.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// A required form field is absent (400 `InvalidArgument`).
    #[error(
        "Bucket POST must contain a field named '{field}'.  If it is specified, please check the order of the fields."
    )]
    MissingField { field: &'static str },
    /// A field is present but unusable: duplicated, an unknown algorithm, a malformed
    /// credential scope, a key the store cannot hold (400 `InvalidArgument`).
    #[error("{message}")]
    InvalidArgument { message: String, argument_name: String, argument_value: String },
    /// The multipart body could not be read (400 `MalformedPOSTRequest`).
    #[error("The body of your POST request is not well-formed multipart/form-data.")]
    MalformedPost,
    /// The policy is not base64, not JSON, or not a policy (400 `InvalidPolicyDocument`).
    #[error("Invalid Policy: {0}")]
    InvalidPolicy(String),
    /// The key is longer than S3 allows (400 `KeyTooLongError`).
    #[error("Your key is too long")]
    KeyTooLong { size: usize },
    /// The credential names an access key we do not have (403 `InvalidAccessKeyId`).
    #[error("The AWS Access Key Id you provided does not exist in our records.")]
    InvalidAccessKeyId { access_key_id: String },
    /// The signature does not match the policy (403 `SignatureDoesNotMatch`).
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your key and signing method."
    )]
    SignatureDoesNotMatch,
    /// The policy's `expiration` has passed (403 `AccessDenied`).
    #[error("Invalid according to Policy: Policy expired.")]
    PolicyExpired,
    /// A policy condition does not hold for the submitted form (403 `AccessDenied`). The
    /// condition is rendered as S3 does: `["eq", "$key", "…"]`.
    #[error("Invalid according to Policy: Policy Condition failed: {condition}")]
    ConditionFailed { condition: String },
    /// A submitted form field has no condition in the policy (403 `AccessDenied`).
    #[error("Invalid according to Policy: Extra input fields: {field}")]
    ExtraField { field: String },
    /// The file is bigger than `content-length-range` allows (400 `EntityTooLarge`).
    /// `proposed` is the size when known (it is not when the upload is cut off mid-stream).
    #[error("Your proposed upload exceeds the maximum allowed size")]
    EntityTooLarge { max_allowed: u64, proposed: Option<u64> },
    /// The file is smaller than `content-length-range` allows (400 `EntityTooSmall`).
    #[error("Your proposed upload is smaller than the minimum allowed size")]
    EntityTooSmall { min_allowed: u64, proposed: u64 },
    /// Storing the upload failed on our side (500 `InternalError`). The cause is kept as the
    /// error source for logs and never shown to the client.
    #[error("We encountered an internal error. Please try again.")]
    Internal(#[source] BlobError),
}

impl UploadError {
    /// The HTTP status S3 answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingField { .. }
            | Self::InvalidArgument { .. }
            | Self::MalformedPost
            | Self::InvalidPolicy(_)
            | Self::KeyTooLong { .. }
            | Self::EntityTooLarge { .. }
            | Self::EntityTooSmall { .. } => 400,
            Self::InvalidAccessKeyId { .. }
            | Self::SignatureDoesNotMatch
            | Self::PolicyExpired
            | Self::ConditionFailed { .. }
            | Self::ExtraField { .. } => 403,
            Self::Internal(_) => 500,
        }
    }

    /// S3's error code (`<Code>`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingField { .. } | Self::InvalidArgument { .. } => "InvalidArgument",
            Self::MalformedPost => "MalformedPOSTRequest",
            Self::InvalidPolicy(_) => "InvalidPolicyDocument",
            Self::KeyTooLong { .. } => "KeyTooLongError",
            Self::InvalidAccessKeyId { .. } => "InvalidAccessKeyId",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::PolicyExpired | Self::ConditionFailed { .. } | Self::ExtraField { .. } => {
                "AccessDenied"
            }
            Self::EntityTooLarge { .. } => "EntityTooLarge",
            Self::EntityTooSmall { .. } => "EntityTooSmall",
            Self::Internal(_) => "InternalError",
        }
    }

    /// S3's error message (`<Message>`); never contains internal details.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The response body S3 sends (`Content-Type: application/xml`), e.g.
    /// `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Invalid
    /// according to Policy: Policy expired.</Message></Error>`, with S3's extra elements where
    /// it has them (`MaxSizeAllowed`, `ArgumentName`, …).
    pub fn to_xml(&self) -> String {
        let mut extra: Vec<(&str, String)> = Vec::new();
        match self {
            Self::MissingField { field } => {
                extra.push(("ArgumentName", (*field).to_owned()));
                extra.push(("ArgumentValue", String::new()));
            }
            Self::InvalidArgument { argument_name, argument_value, .. } => {
                extra.push(("ArgumentName", argument_name.clone()));
                extra.push(("ArgumentValue", argument_value.clone()));
            }
            Self::KeyTooLong { size } => {
                extra.push(("Size", size.to_string()));
                extra.push(("MaxSizeAllowed", MAX_KEY_BYTES.to_string()));
            }
            Self::InvalidAccessKeyId { access_key_id } => {
                extra.push(("AWSAccessKeyId", access_key_id.clone()));
            }
            Self::EntityTooLarge { max_allowed, proposed } => {
                if let Some(proposed) = proposed {
                    extra.push(("ProposedSize", proposed.to_string()));
                }
                extra.push(("MaxSizeAllowed", max_allowed.to_string()));
            }
            Self::EntityTooSmall { min_allowed, proposed } => {
                extra.push(("ProposedSize", proposed.to_string()));
                extra.push(("MinSizeAllowed", min_allowed.to_string()));
            }
            _ => {}
        }
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
        push_element(&mut xml, "Code", self.code());
        push_element(&mut xml, "Message", &self.message());
        for (name, value) in &extra {
            push_element(&mut xml, name, value);
        }
        xml.push_str("</Error>");
        xml
    }

    fn invalid_argument(message: String, name: &str, value: &str) -> Self {
        Self::InvalidArgument {
            message,
            argument_name: name.to_owned(),
            argument_value: value.to_owned(),
        }
    }
}

fn push_element(xml: &mut String, name: &str, value: &str) {
    xml.push('<');
    xml.push_str(name);
    xml.push('>');
    for c in value.chars() {
        match c {
            '&' => xml.push_str("&amp;"),
            '<' => xml.push_str("&lt;"),
            '>' => xml.push_str("&gt;"),
            '"' => xml.push_str("&quot;"),
            '\'' => xml.push_str("&apos;"),
            c => xml.push(c),
        }
    }
    xml.push_str("</");
    xml.push_str(name);
    xml.push('>');
}

/// Signs a POST policy that lets a browser upload exactly one object, `key`, of at most
/// `max_bytes`, to `bucket` until `expires_at`. Returns the form fields in the order clients
/// post them: `key`, `x-amz-algorithm`, `x-amz-credential`, `x-amz-date`, `policy`,
/// `x-amz-signature` (names verbatim: clients must not case-convert them).
///
/// The policy's conditions are `{bucket}`, `{key}` (exact, so a form can't be reused for
/// another key), `{x-amz-algorithm}`, `{x-amz-credential}`, `{x-amz-date}` and
/// `["content-length-range", 0, max_bytes]`. `now` is the signing time (the credential scope
/// date and `x-amz-date`); it is a parameter so tests and callers control the clock.
pub fn sign_post_policy(
    creds: &Credentials,
    bucket: &str,
    key: &str,
    max_bytes: u64,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Vec<(String, String)> {
    let now = now.to_offset(UtcOffset::UTC);
    let expires_at = expires_at.to_offset(UtcOffset::UTC);
    let date = format!("{:04}{:02}{:02}", now.year(), u8::from(now.month()), now.day());
    let amz_date = format!("{date}T{:02}{:02}{:02}Z", now.hour(), now.minute(), now.second());
    let credential = format!("{}/{date}/{}/s3/aws4_request", creds.access_key_id, creds.region);
    // AWS's own format: 2015-12-30T12:00:00.000Z.
    let expiration = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        expires_at.year(),
        u8::from(expires_at.month()),
        expires_at.day(),
        expires_at.hour(),
        expires_at.minute(),
        expires_at.second(),
        expires_at.millisecond(),
    );
    let conditions = serde_json::json!([
        { "bucket": bucket },
        { "key": key },
        { "x-amz-algorithm": ALGORITHM },
        { "x-amz-credential": credential },
        { "x-amz-date": amz_date },
        ["content-length-range", 0, max_bytes],
    ]);
    // Written by hand (not through a map) so `expiration` comes first, as in AWS's examples.
    let policy_json =
        format!("{{\"expiration\":{},\"conditions\":{conditions}}}", Value::String(expiration));
    let policy = BASE64.encode(policy_json.as_bytes());
    let signature =
        policy_signature(creds.secret_access_key.expose_secret(), &date, &creds.region, &policy);
    vec![
        ("key".to_owned(), key.to_owned()),
        ("x-amz-algorithm".to_owned(), ALGORITHM.to_owned()),
        ("x-amz-credential".to_owned(), credential),
        ("x-amz-date".to_owned(), amz_date),
        ("policy".to_owned(), policy),
        ("x-amz-signature".to_owned(), signature),
    ]
}

/// The SigV4 signing key for `date` (yyyymmdd), `region` and the `s3` service.
fn signing_key(secret: &str, date: &str, region: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, b"s3");
    hmac_sha256(&k_service, b"aws4_request")
}

/// The POST signature: lower-case hex of HMAC-SHA256(signing key, base64 policy as sent).
pub(crate) fn policy_signature(secret: &str, date: &str, region: &str, policy_b64: &str) -> String {
    hex(&hmac_sha256(&signing_key(secret, date, region), policy_b64.as_bytes()))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length (longer ones are hashed), so this cannot fail.
    let mut mac =
        <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Checks a browser POST upload's form fields the way S3 does, before any of the file is
/// stored: the fields are present, the credential is ours, the signature matches the policy
/// (constant-time), the policy has not expired, every condition holds for the submitted fields
/// (`eq`, `starts-with`, `{bucket}`), and every submitted field is covered by a condition.
///
/// `fields` are the form's fields before the file part, with names as submitted (matched
/// case-insensitively, as S3 does: AWS's own example posts `X-Amz-Credential` and `Policy`).
/// The file itself is not passed: its size is bounded by the caller while streaming it, using
/// the returned [`VerifiedPolicy::max_bytes`] and [`VerifiedPolicy::min_bytes`]. Key
/// substitution (`${filename}`) is not performed; our forms always carry an exact key.
pub fn verify_post(
    creds: &Credentials,
    bucket: &str,
    fields: &[(String, String)],
    now: OffsetDateTime,
) -> Result<VerifiedPolicy, UploadError> {
    // Field names are case-insensitive; a duplicated field would make "which value did the
    // policy check" ambiguous, so it is refused.
    let mut form: HashMap<String, (&str, &str)> = HashMap::with_capacity(fields.len());
    for (name, value) in fields {
        let lower = name.to_ascii_lowercase();
        if form.insert(lower, (name.as_str(), value.as_str())).is_some() {
            return Err(UploadError::invalid_argument(
                format!("POST form field '{name}' appears more than once."),
                name,
                value,
            ));
        }
    }
    let get = |field: &'static str| -> Result<&str, UploadError> {
        form.get(field).map(|(_, v)| *v).ok_or(UploadError::MissingField { field })
    };
    let key = get("key")?;
    let policy_b64 = get("policy")?;
    let algorithm = get("x-amz-algorithm")?;
    let credential = get("x-amz-credential")?;
    get("x-amz-date")?;
    let signature = get("x-amz-signature")?;

    if key.len() > MAX_KEY_BYTES {
        return Err(UploadError::KeyTooLong { size: key.len() });
    }
    if algorithm != ALGORITHM {
        return Err(UploadError::invalid_argument(
            format!("Unsupported algorithm '{algorithm}'; only {ALGORITHM} is supported."),
            "x-amz-algorithm",
            algorithm,
        ));
    }
    let date = check_credential(creds, credential)?;

    let expected =
        policy_signature(creds.secret_access_key.expose_secret(), date, &creds.region, policy_b64);
    if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
        return Err(UploadError::SignatureDoesNotMatch);
    }

    // Only now, with the policy known to be ours, is it decoded. Some encoders wrap base64 at
    // 76 columns; the signature covered the text as sent, so whitespace can be dropped here.
    let compact: String = policy_b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let policy_bytes = BASE64
        .decode(compact.as_bytes())
        .map_err(|_| UploadError::InvalidPolicy("Policy is not valid Base64.".to_owned()))?;
    let policy: Value = serde_json::from_slice(&policy_bytes)
        .map_err(|_| UploadError::InvalidPolicy("Invalid JSON.".to_owned()))?;
    let Some(policy) = policy.as_object() else {
        return Err(UploadError::InvalidPolicy("Invalid JSON.".to_owned()));
    };
    let expiration = match policy.get("expiration") {
        None => return Err(UploadError::InvalidPolicy("Policy missing expiration.".to_owned())),
        Some(Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
            UploadError::InvalidPolicy(format!("Invalid 'expiration' value: '{s}'"))
        })?,
        Some(other) => {
            return Err(UploadError::InvalidPolicy(format!(
                "Invalid 'expiration' value: '{other}'"
            )));
        }
    };
    let Some(conditions) = policy.get("conditions") else {
        return Err(UploadError::InvalidPolicy("Policy missing conditions.".to_owned()));
    };
    let Some(conditions) = conditions.as_array() else {
        return Err(UploadError::InvalidPolicy("Invalid 'conditions' value.".to_owned()));
    };
    if now >= expiration {
        return Err(UploadError::PolicyExpired);
    }

    let Conditions { covered, min_bytes, max_bytes } = check_conditions(conditions, bucket, &form)?;

    // Every other field must have been checked by some condition, or a form could smuggle in
    // fields (say, a Content-Type) the signer never agreed to.
    // (In submission order, so the error names the first offending field.)
    for (name, _) in fields {
        let lower = name.to_ascii_lowercase();
        let exempt = EXEMPT_FIELDS.contains(&lower.as_str()) || lower.starts_with("x-ignore-");
        if !exempt && !covered.contains(&lower) {
            return Err(UploadError::ExtraField { field: name.clone() });
        }
    }

    Ok(VerifiedPolicy { key: key.to_owned(), min_bytes, max_bytes, expires_at: expiration })
}

/// What a policy's conditions allow: the (lower-case) field names they checked and the file
/// size range.
struct Conditions {
    covered: Vec<String>,
    min_bytes: u64,
    max_bytes: u64,
}

/// Evaluates every condition against the bucket and the submitted fields (`form`: lower-case
/// name → (name as sent, value); a missing field counts as empty, as in S3 and MinIO).
fn check_conditions(
    conditions: &[Value],
    bucket: &str,
    form: &HashMap<String, (&str, &str)>,
) -> Result<Conditions, UploadError> {
    let field_value = |name: &str| form.get(name).map_or("", |(_, v)| *v);
    let mut covered: Vec<String> = Vec::new();
    let mut min_bytes = 0u64;
    let mut max_bytes = S3_MAX_POST_BYTES;
    for condition in conditions {
        match condition {
            Value::Object(map) => {
                for (name, expected) in map {
                    let Value::String(expected) = expected else {
                        return Err(UploadError::InvalidPolicy(format!(
                            "Invalid Simple-Condition: value of '{name}' must be a string."
                        )));
                    };
                    let lower = name.to_ascii_lowercase();
                    let actual = if lower == "bucket" { bucket } else { field_value(&lower) };
                    if actual != expected {
                        return Err(condition_failed("eq", name, expected));
                    }
                    covered.push(lower);
                }
            }
            Value::Array(items) => {
                let op = items.first().and_then(Value::as_str).map(str::to_ascii_lowercase);
                match (op.as_deref(), items.as_slice()) {
                    (Some("content-length-range"), [_, min, max]) => {
                        let (Some(min), Some(max)) = (min.as_u64(), max.as_u64()) else {
                            return Err(UploadError::InvalidPolicy(
                                "Invalid content-length-range: bounds must be non-negative integers."
                                    .to_owned(),
                            ));
                        };
                        // Several ranges all apply: the allowed sizes are their intersection.
                        min_bytes = min_bytes.max(min);
                        max_bytes = max_bytes.min(max);
                    }
                    (
                        Some(op @ ("eq" | "starts-with")),
                        [_, Value::String(target), Value::String(expected)],
                    ) => {
                        let Some(name) = target.strip_prefix('$') else {
                            return Err(UploadError::InvalidPolicy(format!(
                                "Invalid Condition: field '{target}' must start with '$'."
                            )));
                        };
                        let lower = name.to_ascii_lowercase();
                        let actual = if lower == "bucket" { bucket } else { field_value(&lower) };
                        let ok = if op == "eq" {
                            actual == expected
                        } else if lower == "content-type" {
                            // S3: a Content-Type may list several types; each must match.
                            actual.split(',').all(|t| t.trim().starts_with(expected.as_str()))
                        } else {
                            actual.starts_with(expected.as_str())
                        };
                        if !ok {
                            return Err(condition_failed(op, name, expected));
                        }
                        covered.push(lower);
                    }
                    _ => {
                        return Err(UploadError::InvalidPolicy(format!(
                            "Invalid Condition: {condition}"
                        )));
                    }
                }
            }
            other => {
                return Err(UploadError::InvalidPolicy(format!("Invalid Condition: {other}")));
            }
        }
    }
    if min_bytes > max_bytes {
        return Err(UploadError::InvalidPolicy(
            "Invalid content-length-range: the minimum exceeds the maximum.".to_owned(),
        ));
    }

    Ok(Conditions { covered, min_bytes, max_bytes })
}

/// Parses `<access key>/<yyyymmdd>/<region>/s3/aws4_request`, checks it names our key, region
/// and service, and returns the scope date (the signing key is derived from it).
fn check_credential<'a>(creds: &Credentials, credential: &'a str) -> Result<&'a str, UploadError> {
    let malformed = |detail: String| {
        UploadError::invalid_argument(
            format!("Error parsing the X-Amz-Credential parameter; {detail}"),
            "x-amz-credential",
            credential,
        )
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminal] = parts.as_slice() else {
        return Err(malformed("the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".".to_owned()));
    };
    if *access_key_id != creds.access_key_id {
        return Err(UploadError::InvalidAccessKeyId { access_key_id: (*access_key_id).to_owned() });
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(format!(
            "invalid date '{date}'. This date is not in ISO8601 format."
        )));
    }
    if *region != creds.region {
        return Err(malformed(format!(
            "the region '{region}' is wrong; expecting '{}'",
            creds.region
        )));
    }
    if *service != "s3" {
        return Err(malformed(format!(
            "incorrect service '{service}'. This endpoint belongs to 's3'."
        )));
    }
    if *terminal != "aws4_request" {
        return Err(malformed(format!(
            "incorrect terminal '{terminal}'. This endpoint uses 'aws4_request'."
        )));
    }
    Ok(date)
}

/// S3 renders a failed condition as `["eq", "$key", "value"]`, whatever form it had in the
/// policy.
fn condition_failed(op: &str, name: &str, expected: &str) -> UploadError {
    UploadError::ConditionFailed {
        condition: format!(
            "[{}, {}, {}]",
            Value::String(op.to_owned()),
            Value::String(format!("${name}")),
            Value::String(expected.to_owned())
        ),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    /// AWS's published example ("Example: Browser-Based Upload using HTTP POST (Using AWS
    /// Signature Version 4)", <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-post-example.html>):
    /// the base64 policy and the signature exactly as the page prints them.
    const AWS_POLICY_B64: &str = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
    const AWS_SIGNATURE: &str = "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e";
    /// The policy text the page shows, with the CRLF line ends that were base64-encoded.
    const AWS_POLICY_JSON: &str = "{ \"expiration\": \"2015-12-30T12:00:00.000Z\",\r\n  \"conditions\": [\r\n    {\"bucket\": \"sigv4examplebucket\"},\r\n    [\"starts-with\", \"$key\", \"user/user1/\"],\r\n    {\"acl\": \"public-read\"},\r\n    {\"success_action_redirect\": \"http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html\"},\r\n    [\"starts-with\", \"$Content-Type\", \"image/\"],\r\n    {\"x-amz-meta-uuid\": \"14365123651274\"},\r\n    {\"x-amz-server-side-encryption\": \"AES256\"},\r\n    [\"starts-with\", \"$x-amz-meta-tag\", \"\"],\r\n\r\n    {\"x-amz-credential\": \"AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request\"},\r\n    {\"x-amz-algorithm\": \"AWS4-HMAC-SHA256\"},\r\n    {\"x-amz-date\": \"20151229T000000Z\" }\r\n  ]\r\n}";

    fn aws_creds() -> Credentials {
        Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".to_owned(),
            secret_access_key: SecretString::from("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1".to_owned(),
        }
    }

    /// The form of AWS's example, field names as the page writes them (mixed case).
    fn aws_form() -> Vec<(String, String)> {
        [
            ("key", "user/user1/${filename}"),
            ("acl", "public-read"),
            (
                "success_action_redirect",
                "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html",
            ),
            ("Content-Type", "image/jpeg"),
            ("x-amz-meta-uuid", "14365123651274"),
            ("x-amz-server-side-encryption", "AES256"),
            ("X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"),
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Date", "20151229T000000Z"),
            ("x-amz-meta-tag", ""),
            ("Policy", AWS_POLICY_B64),
            ("X-Amz-Signature", AWS_SIGNATURE),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn reproduces_aws_published_signature_byte_for_byte() {
        let decoded = BASE64.decode(AWS_POLICY_B64).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), AWS_POLICY_JSON);
        assert_eq!(BASE64.encode(AWS_POLICY_JSON), AWS_POLICY_B64);
        let creds = aws_creds();
        let signature = policy_signature(
            creds.secret_access_key.expose_secret(),
            "20151229",
            "us-east-1",
            AWS_POLICY_B64,
        );
        assert_eq!(signature, AWS_SIGNATURE);
    }

    #[test]
    fn verifies_aws_published_form() {
        let verified = verify_post(
            &aws_creds(),
            "sigv4examplebucket",
            &aws_form(),
            datetime!(2015-12-29 0:00 UTC),
        )
        .unwrap();
        assert_eq!(verified.key, "user/user1/${filename}");
        assert_eq!((verified.min_bytes, verified.max_bytes), (0, S3_MAX_POST_BYTES));
        assert_eq!(verified.expires_at, datetime!(2015-12-30 12:00 UTC));

        // The example's own conditions are enforced too.
        let mut form = aws_form();
        form[3].1 = "text/html".to_owned();
        let err =
            verify_post(&aws_creds(), "sigv4examplebucket", &form, datetime!(2015-12-29 0:00 UTC))
                .unwrap_err();
        assert_eq!(
            err.message(),
            "Invalid according to Policy: Policy Condition failed: [\"starts-with\", \"$Content-Type\", \"image/\"]"
        );
        let err =
            verify_post(&aws_creds(), "otherbucket", &aws_form(), datetime!(2015-12-29 0:00 UTC))
                .unwrap_err();
        assert_eq!(err.code(), "AccessDenied");
        assert!(err.message().contains("[\"eq\", \"$bucket\", \"sigv4examplebucket\"]"));
        let err = verify_post(
            &aws_creds(),
            "sigv4examplebucket",
            &aws_form(),
            datetime!(2015-12-31 0:00 UTC),
        )
        .unwrap_err();
        assert!(matches!(err, UploadError::PolicyExpired));
    }

    fn creds() -> Credentials {
        Credentials {
            access_key_id: "openmai-local".to_owned(),
            secret_access_key: SecretString::from("a-long-random-secret"),
            region: "us-east-1".to_owned(),
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-03-01 10:20:30 UTC);
    const KEY: &str = "uploads/0190a0b0-0000-7000-8000-000000000000/attachment/x/report.pdf";

    fn signed() -> Vec<(String, String)> {
        sign_post_policy(&creds(), "openmai", KEY, 1000, NOW + time::Duration::minutes(15), NOW)
    }

    fn set(fields: &mut [(String, String)], name: &str, value: &str) {
        let field = fields.iter_mut().find(|(n, _)| n == name).unwrap();
        field.1 = value.to_owned();
    }

    fn decoded_policy(fields: &[(String, String)]) -> Value {
        let b64 = &fields.iter().find(|(n, _)| n == "policy").unwrap().1;
        serde_json::from_slice(&BASE64.decode(b64).unwrap()).unwrap()
    }

    #[test]
    fn signs_the_contract_fields_in_order() {
        let fields = signed();
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "key",
                "x-amz-algorithm",
                "x-amz-credential",
                "x-amz-date",
                "policy",
                "x-amz-signature"
            ]
        );
        assert_eq!(fields[0].1, KEY);
        assert_eq!(fields[1].1, "AWS4-HMAC-SHA256");
        assert_eq!(fields[2].1, "openmai-local/20260301/us-east-1/s3/aws4_request");
        assert_eq!(fields[3].1, "20260301T102030Z");
        assert_eq!(fields[5].1.len(), 64);
        assert_eq!(
            decoded_policy(&fields),
            serde_json::json!({
                "expiration": "2026-03-01T10:35:30.000Z",
                "conditions": [
                    {"bucket": "openmai"},
                    {"key": KEY},
                    {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
                    {"x-amz-credential": "openmai-local/20260301/us-east-1/s3/aws4_request"},
                    {"x-amz-date": "20260301T102030Z"},
                    ["content-length-range", 0, 1000]
                ]
            })
        );
        // Non-UTC clocks are signed in UTC.
        let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap();
        let local = sign_post_policy(
            &creds(),
            "openmai",
            KEY,
            1000,
            (NOW + time::Duration::minutes(15)).to_offset(offset),
            NOW.to_offset(offset),
        );
        assert_eq!(local, fields);
    }

    #[test]
    fn round_trip() {
        let verified = verify_post(&creds(), "openmai", &signed(), NOW).unwrap();
        assert_eq!(
            verified,
            VerifiedPolicy {
                key: KEY.to_owned(),
                min_bytes: 0,
                max_bytes: 1000,
                expires_at: NOW + time::Duration::minutes(15),
            }
        );
        // Just before expiry still works; field names are case-insensitive; x-ignore-* fields
        // and a stray `file` text field need no condition.
        let mut fields: Vec<(String, String)> =
            signed().into_iter().map(|(n, v)| (n.to_ascii_uppercase(), v)).collect();
        fields.push(("x-ignore-trace".to_owned(), "1".to_owned()));
        fields.push(("file".to_owned(), "not the file part".to_owned()));
        let at = NOW + time::Duration::minutes(15) - time::Duration::milliseconds(1);
        assert!(verify_post(&creds(), "openmai", &fields, at).is_ok());
    }

    fn refuse(fields: &[(String, String)], now: OffsetDateTime) -> UploadError {
        verify_post(&creds(), "openmai", fields, now).unwrap_err()
    }

    #[test]
    fn refuses_a_changed_key() {
        let mut fields = signed();
        set(&mut fields, "key", "uploads/other/file.pdf");
        let err = refuse(&fields, NOW);
        assert_eq!((err.status(), err.code()), (403, "AccessDenied"));
        assert_eq!(
            err.message(),
            format!(
                "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$key\", \"{KEY}\"]"
            )
        );
    }

    #[test]
    fn refuses_a_changed_policy() {
        // A policy re-encoded with a bigger size limit, keeping the old signature.
        let mut fields = signed();
        let mut policy = decoded_policy(&fields);
        policy["conditions"][5][2] = Value::from(10_000_000_000u64);
        set(&mut fields, "policy", &BASE64.encode(policy.to_string()));
        let err = refuse(&fields, NOW);
        assert_eq!((err.status(), err.code()), (403, "SignatureDoesNotMatch"));
        assert_eq!(
            err.message(),
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        );
    }

    #[test]
    fn refuses_a_changed_signature() {
        for bad in ["0".repeat(64), "ab".to_owned(), String::new(), signed()[5].1.to_uppercase()] {
            let mut fields = signed();
            set(&mut fields, "x-amz-signature", &bad);
            let err = refuse(&fields, NOW);
            assert_eq!((err.status(), err.code()), (403, "SignatureDoesNotMatch"), "{bad}");
        }
        // Signed with another secret.
        let other = Credentials { secret_access_key: SecretString::from("other"), ..creds() };
        let fields =
            sign_post_policy(&other, "openmai", KEY, 1000, NOW + time::Duration::hours(1), NOW);
        assert_eq!(refuse(&fields, NOW).code(), "SignatureDoesNotMatch");
    }

    #[test]
    fn refuses_an_expired_policy() {
        let err = refuse(&signed(), NOW + time::Duration::minutes(15));
        assert_eq!((err.status(), err.code()), (403, "AccessDenied"));
        assert_eq!(err.message(), "Invalid according to Policy: Policy expired.");
        assert_eq!(
            err.to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Invalid according to Policy: Policy expired.</Message></Error>"
        );
    }

    #[test]
    fn refuses_a_wrong_credential_or_date() {
        // Another day in the scope: a different signing key, so the signature fails.
        let mut fields = signed();
        set(&mut fields, "x-amz-credential", "openmai-local/20260302/us-east-1/s3/aws4_request");
        assert_eq!(refuse(&fields, NOW).code(), "SignatureDoesNotMatch");
        // An unknown access key.
        let mut fields = signed();
        set(&mut fields, "x-amz-credential", "someone-else/20260301/us-east-1/s3/aws4_request");
        let err = refuse(&fields, NOW);
        assert_eq!((err.status(), err.code()), (403, "InvalidAccessKeyId"));
        assert!(err.to_xml().contains("<AWSAccessKeyId>someone-else</AWSAccessKeyId>"));
        // Another region, another service, garbage.
        for bad in [
            "openmai-local/20260301/eu-west-1/s3/aws4_request",
            "openmai-local/20260301/us-east-1/ec2/aws4_request",
            "openmai-local/20260301/us-east-1/s3/aws5_request",
            "openmai-local/2026-03-01/us-east-1/s3/aws4_request",
            "openmai-local",
        ] {
            let mut fields = signed();
            set(&mut fields, "x-amz-credential", bad);
            let err = refuse(&fields, NOW);
            assert_eq!((err.status(), err.code()), (400, "InvalidArgument"), "{bad}");
        }
        // A changed x-amz-date: the signature still matches, the policy condition does not.
        let mut fields = signed();
        set(&mut fields, "x-amz-date", "20260301T000000Z");
        let err = refuse(&fields, NOW);
        assert_eq!((err.status(), err.code()), (403, "AccessDenied"));
        assert_eq!(
            err.message(),
            "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$x-amz-date\", \"20260301T102030Z\"]"
        );
        // Another algorithm.
        let mut fields = signed();
        set(&mut fields, "x-amz-algorithm", "AWS4-HMAC-SHA1");
        assert_eq!(refuse(&fields, NOW).code(), "InvalidArgument");
    }

    #[test]
    fn refuses_a_missing_field() {
        for (i, name) in [
            "key",
            "x-amz-algorithm",
            "x-amz-credential",
            "x-amz-date",
            "policy",
            "x-amz-signature",
        ]
        .into_iter()
        .enumerate()
        {
            let mut fields = signed();
            fields.remove(i);
            let err = refuse(&fields, NOW);
            assert_eq!((err.status(), err.code()), (400, "InvalidArgument"), "{name}");
            assert_eq!(
                err.message(),
                format!(
                    "Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."
                )
            );
            assert!(err.to_xml().contains(&format!("<ArgumentName>{name}</ArgumentName>")));
        }
    }

    #[test]
    fn refuses_extra_and_duplicate_fields() {
        let mut fields = signed();
        fields.push(("Content-Type".to_owned(), "text/html".to_owned()));
        let err = refuse(&fields, NOW);
        assert_eq!((err.status(), err.code()), (403, "AccessDenied"));
        assert_eq!(err.message(), "Invalid according to Policy: Extra input fields: Content-Type");

        let mut fields = signed();
        fields.push(("KEY".to_owned(), KEY.to_owned()));
        assert_eq!(refuse(&fields, NOW).code(), "InvalidArgument");
    }

    /// A form signed with a hand-written policy (to reach the parser's error paths).
    fn with_policy(policy: &str) -> Vec<(String, String)> {
        let mut fields = signed();
        let b64 = BASE64.encode(policy);
        let sig = policy_signature("a-long-random-secret", "20260301", "us-east-1", &b64);
        set(&mut fields, "policy", &b64);
        set(&mut fields, "x-amz-signature", &sig);
        fields
    }

    #[test]
    fn refuses_malformed_policies() {
        let exp = "\"expiration\":\"2026-03-01T11:00:00Z\"";
        for (policy, message) in [
            ("not json", "Invalid Policy: Invalid JSON."),
            ("[1]", "Invalid Policy: Invalid JSON."),
            ("{\"conditions\":[]}", "Invalid Policy: Policy missing expiration."),
            (
                "{\"expiration\":\"tomorrow\",\"conditions\":[]}",
                "Invalid Policy: Invalid 'expiration' value: 'tomorrow'",
            ),
            (&format!("{{{exp}}}"), "Invalid Policy: Policy missing conditions."),
            (
                &format!("{{{exp},\"conditions\":[[\"content-length-range\",-1,5]]}}"),
                "Invalid Policy: Invalid content-length-range: bounds must be non-negative integers.",
            ),
            (
                &format!("{{{exp},\"conditions\":[[\"content-length-range\",9,5]]}}"),
                "Invalid Policy: Invalid content-length-range: the minimum exceeds the maximum.",
            ),
            (
                &format!("{{{exp},\"conditions\":[[\"regex\",\"$key\",\".*\"]]}}"),
                "Invalid Policy: Invalid Condition: [\"regex\",\"$key\",\".*\"]",
            ),
            (
                &format!("{{{exp},\"conditions\":[[\"eq\",\"key\",\"x\"]]}}"),
                "Invalid Policy: Invalid Condition: field 'key' must start with '$'.",
            ),
            (
                &format!("{{{exp},\"conditions\":[{{\"key\":5}}]}}"),
                "Invalid Policy: Invalid Simple-Condition: value of 'key' must be a string.",
            ),
            (&format!("{{{exp},\"conditions\":[7]}}"), "Invalid Policy: Invalid Condition: 7"),
        ] {
            let err = refuse(&with_policy(policy), NOW);
            assert_eq!(
                (err.status(), err.code(), err.message().as_str()),
                (400, "InvalidPolicyDocument", message)
            );
        }
        // Signed garbage that is not base64 at all.
        let mut fields = signed();
        let sig = policy_signature("a-long-random-secret", "20260301", "us-east-1", "!!!");
        set(&mut fields, "policy", "!!!");
        set(&mut fields, "x-amz-signature", &sig);
        assert_eq!(refuse(&fields, NOW).code(), "InvalidPolicyDocument");
    }

    #[test]
    fn a_policy_without_a_key_condition_is_refused() {
        // Otherwise the form could upload to any key.
        let policy = "{\"expiration\":\"2026-03-01T11:00:00Z\",\"conditions\":[{\"bucket\":\"openmai\"},{\"x-amz-algorithm\":\"AWS4-HMAC-SHA256\"},{\"x-amz-credential\":\"openmai-local/20260301/us-east-1/s3/aws4_request\"},{\"x-amz-date\":\"20260301T102030Z\"}]}";
        let err = refuse(&with_policy(policy), NOW);
        assert_eq!(err.message(), "Invalid according to Policy: Extra input fields: key");
    }

    #[test]
    fn several_ranges_intersect_and_starts_with_works() {
        let policy = "{\"expiration\":\"2026-03-01T11:00:00Z\",\"conditions\":[[\"starts-with\",\"$key\",\"uploads/\"],{\"x-amz-algorithm\":\"AWS4-HMAC-SHA256\"},{\"x-amz-credential\":\"openmai-local/20260301/us-east-1/s3/aws4_request\"},{\"x-amz-date\":\"20260301T102030Z\"},[\"content-length-range\",10,500],[\"content-length-range\",0,200]]}";
        let verified = verify_post(&creds(), "openmai", &with_policy(policy), NOW).unwrap();
        assert_eq!((verified.min_bytes, verified.max_bytes), (10, 200));
    }

    #[test]
    fn error_statuses_codes_and_xml() {
        let too_large = UploadError::EntityTooLarge { max_allowed: 10, proposed: Some(11) };
        assert_eq!((too_large.status(), too_large.code()), (400, "EntityTooLarge"));
        assert_eq!(
            too_large.to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds the maximum allowed size</Message><ProposedSize>11</ProposedSize><MaxSizeAllowed>10</MaxSizeAllowed></Error>"
        );
        let too_small = UploadError::EntityTooSmall { min_allowed: 10, proposed: 1 };
        assert_eq!((too_small.status(), too_small.code()), (400, "EntityTooSmall"));
        assert_eq!(UploadError::MalformedPost.code(), "MalformedPOSTRequest");
        let internal = UploadError::Internal(BlobError::InvalidArgument("secret detail".into()));
        assert_eq!((internal.status(), internal.code()), (500, "InternalError"));
        assert!(!internal.to_xml().contains("secret detail"));
        let condition =
            UploadError::ConditionFailed { condition: "[\"eq\", \"$key\", \"<&>\"]".into() };
        assert!(
            condition
                .to_xml()
                .contains("[&quot;eq&quot;, &quot;$key&quot;, &quot;&lt;&amp;&gt;&quot;]")
        );
    }
}
