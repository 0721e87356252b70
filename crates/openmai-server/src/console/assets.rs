//! The console's stylesheet, script and icon, compiled into the binary and served from
//! `/console/static/`. Pages link them with a content hash in the query, so they can be
//! cached for a year and still change with each release.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const CSS: &str = include_str!("../../static/console.css");
const JS: &str = include_str!("../../static/console.js");
const ICON: &str = include_str!("../../static/favicon.svg");

/// The versioned URLs pages link to.
pub struct Urls {
    pub css: String,
    pub js: String,
    pub icon: String,
}

fn versioned(name: &str, content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("/console/static/{name}?v={hex}")
}

static URLS: LazyLock<Urls> = LazyLock::new(|| Urls {
    css: versioned("console.css", CSS),
    js: versioned("console.js", JS),
    icon: versioned("favicon.svg", ICON),
});

pub fn urls() -> &'static Urls {
    &URLS
}

/// The console's stylesheet, script and icon, cached for a year (URLs carry a content hash).
#[utoipa::path(get, path = "/console/static/{file}", tag = "console",
    params(("file" = String, Path, description = "`console.css`, `console.js` or `favicon.svg`")),
    responses((status = 200, description = "The file"),
        (status = 404, description = "No such file")))]
pub async fn serve(Path(file): Path<String>) -> Response {
    let (content_type, body) = match file.as_str() {
        "console.css" => ("text/css; charset=utf-8", CSS),
        "console.js" => ("text/javascript; charset=utf-8", JS),
        "favicon.svg" => ("image/svg+xml", ICON),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        body,
    )
        .into_response()
}
