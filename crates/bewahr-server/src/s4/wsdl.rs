//! The WSDL at `GET /s4?wsdl` and the schemas it imports under
//! `GET /s4/schemas/...`, so that a SOAP client builds itself from the
//! server's URL alone.
//!
//! BSI's WSDL is served with two changes, both to addresses: the service's
//! `soap:address` becomes this server's `/s4`, and the WSDL's one
//! `xsd:include` points at `/s4/schemas/tr-esor-1.3/...`. The schemas are
//! served byte for byte as BSI published them: their relative imports
//! (`./deps/...`) resolve against their own address to the files beside
//! them.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::api::AppState;

const WSDL: &str = "tr-esor-1.3/tr-esor-S-4-v1.3.wsdl";

/// The address clients reach this server by, without a trailing slash:
/// `server.public_url`, else the listener's scheme and the `Host` header.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = &state.http.public_url {
        return u.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let scheme = if state.http.tls { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// BSI's WSDL with this server's addresses.
pub fn wsdl(base: &str) -> String {
    let original = bewahr_xaip::schema::file(WSDL).expect("the S.4 WSDL is embedded");
    let text = String::from_utf8_lossy(original);
    let text = text.replace(
        "<xsd:include schemaLocation=\"tr-esor-interfaces-v1.3.xsd\"/>",
        &format!(
            "<xsd:include schemaLocation=\"{base}/s4/schemas/tr-esor-1.3/tr-esor-interfaces-v1.3.xsd\"/>"
        ),
    );
    text.replace(
        "<soap:address location=\"http://127.0.0.1:18080\"/>",
        &format!("<soap:address location=\"{base}/s4\"/>"),
    )
}

/// `GET /s4?wsdl` (also `?WSDL`); without the query, a pointer to it.
pub async fn get(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let base = base_url(&state, &headers);
    if q.is_some_and(|q| q.eq_ignore_ascii_case("wsdl")) {
        (
            [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
            wsdl(&base),
        )
            .into_response()
    } else {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("TR-ESOR S.4 (SOAP 1.1): POST requests here; the WSDL is at {base}/s4?wsdl\n"),
        )
            .into_response()
    }
}

/// `GET /s4/schemas/{path}`: an embedded schema, as BSI published it.
pub async fn schema(Path(path): Path<String>) -> Response {
    match bewahr_xaip::schema::file(&path).filter(|_| path.ends_with(".xsd")) {
        Some(bytes) => ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], bytes).into_response(),
        None => (StatusCode::NOT_FOUND, "no such schema\n").into_response(),
    }
}

/// The `schemaLocation`s of a schema's (or WSDL's) `import` and `include`
/// elements, in order (not those quoted in its documentation).
pub fn imports(text: &str) -> Vec<String> {
    let mut out = vec![];
    for tag in text.split('<').skip(1) {
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .next()
            .unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or("");
        if local != "import" && local != "include" {
            continue;
        }
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        if let Some(i) = tag.find("schemaLocation=\"") {
            let rest = &tag[i + 16..];
            if let Some(j) = rest.find('"') {
                out.push(rest[..j].to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wsdl_points_at_this_server() {
        let w = wsdl("https://archiv.example");
        assert!(w.contains("<soap:address location=\"https://archiv.example/s4\"/>"));
        assert!(w.contains(
            "schemaLocation=\"https://archiv.example/s4/schemas/tr-esor-1.3/tr-esor-interfaces-v1.3.xsd\""
        ));
        assert!(!w.contains("127.0.0.1:18080"));
        // every schema the WSDL reaches is served (the few absolute
        // locations point at their publishers: W3C, ETSI)
        let mut todo = vec!["tr-esor-1.3/tr-esor-interfaces-v1.3.xsd".to_string()];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(path) = todo.pop() {
            if !seen.insert(path.clone()) {
                continue;
            }
            let bytes = bewahr_xaip::schema::file(&path)
                .unwrap_or_else(|| panic!("{path} is imported but not embedded"));
            let text = String::from_utf8_lossy(bytes);
            for loc in imports(&text) {
                if loc.starts_with("http://") || loc.starts_with("https://") {
                    continue;
                }
                let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                let mut parts: Vec<&str> = dir.split('/').collect();
                for seg in loc.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                todo.push(parts.join("/"));
            }
        }
        assert!(seen.len() > 20, "{seen:?}");
    }
}
