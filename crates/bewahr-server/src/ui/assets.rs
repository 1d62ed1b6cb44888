//! The interface's static files, compiled into the binary
//! (`ui/static/SOURCES.md`: where the vendored ones come from).

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// (name, media type, bytes)
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "bewahr.css",
        "text/css; charset=utf-8",
        include_bytes!("../../ui/static/bewahr.css"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/static/dashboard.js"),
    ),
    (
        "htmx.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/static/htmx.min.js"),
    ),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/static/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../ui/static/uPlot.min.css"),
    ),
];

pub async fn serve(Path(name): Path<String>) -> Response {
    let Some((_, media_type, bytes)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let mut r = (*bytes).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    // the files change only with the binary: an hour in the browser's cache
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    /// The vendored files are the ones `ui/static/SOURCES.md` names.
    #[test]
    fn vendored_files_match_their_recorded_checksums() {
        for (name, sha) in [
            (
                "htmx.min.js",
                "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717",
            ),
            (
                "uPlot.iife.min.js",
                "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f",
            ),
            (
                "uPlot.min.css",
                "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04",
            ),
        ] {
            let (_, _, bytes) = FILES.iter().find(|(n, _, _)| *n == name).unwrap();
            assert_eq!(hex::encode(sha2::Sha256::digest(bytes)), sha, "{name}");
            assert!(
                include_str!("../../ui/static/SOURCES.md").contains(sha),
                "{name} in SOURCES.md"
            );
        }
    }
}
