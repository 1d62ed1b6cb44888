//! The web interface through the real router: sessions, CSRF, roles and
//! tenants, the audit trail, every page in both languages. The browser
//! tests are in `ui_browser.rs`.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use crate::api::{archive, js, multipart, send, Db, TestArchive};

/// A browser's cookie jar, as far as these tests need one.
#[derive(Default, Clone)]
pub struct Jar(std::collections::BTreeMap<String, String>);

impl Jar {
    fn take(&mut self, h: &axum::http::HeaderMap) {
        for v in h.get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (kv, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').unwrap();
            if val.is_empty() || v.contains("Max-Age=0") {
                self.0.remove(k);
            } else {
                self.0.insert(k.to_string(), val.to_string());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A response as text.
pub struct Page {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers[header::LOCATION].to_str().unwrap()
    }
}

async fn go(a: &TestArchive, jar: &mut Jar, req: Request<Body>) -> Page {
    let mut req = req;
    if !jar.0.is_empty() {
        req.headers_mut()
            .insert(header::COOKIE, jar.header().parse().unwrap());
    }
    let (status, headers, body) = send(&a.raw, req).await;
    jar.take(&headers);
    Page {
        status,
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}

pub async fn get(a: &TestArchive, jar: &mut Jar, uri: &str) -> Page {
    go(a, jar, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn form(a: &TestArchive, jar: &mut Jar, uri: &str, fields: &[(&str, &str)]) -> Page {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    go(
        a,
        jar,
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of the hidden field `name` in a page.
pub fn hidden(body: &str, name: &str) -> String {
    let at = body
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no field {name} in {body}"));
    let rest = &body[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// Signs in with `token`; returns the jar with the session.
pub async fn sign_in(a: &TestArchive, token: &str) -> Jar {
    let mut jar = Jar::default();
    let p = get(a, &mut jar, "/ui/login").await;
    assert_eq!(p.status, StatusCode::OK);
    let csrf = hidden(&p.body, "csrf");
    let p = form(
        a,
        &mut jar,
        "/ui/login",
        &[
            ("csrf", &csrf),
            ("token", token),
            ("method", "token"),
            ("next", ""),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert!(jar.0.contains_key("bewahr_session"));
    jar
}

/// An object of tenant t1 with metadata, sealed.
pub async fn sealed_object(a: &TestArchive, doc: &[u8]) -> String {
    let (st, _, body) = send(
        &a.router,
        crate::api::post(
            "/v1/objects?file_ref=AZ%2063-2026%2F17&title=Baugenehmigung%20Ringstra%C3%9Fe&system=eakte-1&retention_until=2056-12-31",
            "application/pdf",
            doc.to_vec(),
        ),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let aoid = js(&body)["aoid"].as_str().unwrap().to_string();
    let (st, _, _) = send(
        &a.router,
        crate::api::get(&format!("/v1/objects/{aoid}/evidence?wait=20")),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    aoid
}

#[tokio::test]
async fn sign_in_sessions_and_csrf() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let doc = b"%PDF-1.7 Bescheid".to_vec();
    let aoid = sealed_object(&a, &doc).await;

    // without a session: to the login form, which comes back here afterwards
    let mut jar = Jar::default();
    let p = get(&a, &mut jar, "/ui/objects?file_ref=x").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location(), "/ui/login?next=/ui/objects%3Ffile_ref%3Dx");

    // the login form's token must match its cookie
    let p = get(&a, &mut jar, "/ui/login").await;
    let csrf = hidden(&p.body, "csrf");
    let cookie = p
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("bewahr_login="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let p = form(
        &a,
        &mut jar,
        "/ui/login",
        &[("csrf", "forged"), ("token", &a.tokens["auditor"])],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(!jar.0.contains_key("bewahr_session"));
    // a wrong token: refused, nothing opened
    let csrf2 = hidden(&p.body, "csrf");
    let p = form(
        &a,
        &mut jar,
        "/ui/login",
        &[("csrf", &csrf2), ("token", "bwr_0000000000000000_nope")],
    )
    .await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.body.contains("id=\"login-error\""));
    assert!(!jar.0.contains_key("bewahr_session"));
    assert_ne!(csrf, csrf2);

    // signed in: back to where the user wanted to go
    let csrf = hidden(&p.body, "csrf");
    let p = form(
        &a,
        &mut jar,
        "/ui/login",
        &[
            ("csrf", &csrf),
            ("token", &a.tokens["auditor"]),
            ("next", "/ui/objects?file_ref=x"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location(), "/ui/objects?file_ref=x");
    let set = p
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("bewahr_session="))
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && !set.contains("Secure"),
        "{set}"
    );

    // the session reads (pages and the downloads they link to) ...
    let p = get(&a, &mut jar, "/ui/objects?file_ref=AZ%2063-2026%2F17").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains(&aoid), "{}", p.body);
    assert_eq!(p.headers[header::CACHE_CONTROL], "no-store");
    assert!(p.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let p = get(
        &a,
        &mut jar,
        &format!("/v1/objects/{aoid}/versions/1/content"),
    )
    .await;
    assert_eq!(p.status, StatusCode::OK);
    // ... but changes nothing outside the interface (no CSRF token there)
    let p = go(
        &a,
        &mut jar,
        crate::api::post("/v1/objects", "text/plain", "x"),
    )
    .await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    let p = go(
        &a,
        &mut jar,
        Request::delete(format!("/v1/objects/{aoid}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);

    // every form of the interface wants the session's CSRF token
    let p = form(&a, &mut jar, "/ui/logout", &[("csrf", "forged")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let (ct, body) = multipart(&[("evidence", "application/octet-stream", b"x")]);
    let p = go(&a, &mut jar, crate::api::post("/ui/verify", &ct, body)).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    // an auditor may not run the operator's dry run, with or without the token
    let page = get(&a, &mut jar, "/ui/verify").await;
    let csrf = hidden(&page.body, "csrf");
    let p = form(&a, &mut jar, "/ui/admin/dry-run", &[("csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = get(&a, &mut jar, "/ui/admin").await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);

    // the views are in the audit trail, with the object they showed
    let p = get(&a, &mut jar, &format!("/ui/objects/{aoid}")).await;
    assert_eq!(p.status, StatusCode::OK);
    // (the trail is written right after each request, by its queue)
    let mut seen = false;
    for _ in 0..200 {
        let (_, _, trail) = send(&a.router, crate::api::get("/v1/audit?limit=1000")).await;
        let trail = js(&trail);
        let entries = trail.as_array().unwrap();
        let viewed = entries.iter().any(|e| {
            e["action"] == "GET /ui/objects/{aoid}"
                && e["aoid"] == aoid.as_str()
                && e["result"] == "200"
        });
        let signed_in = entries.iter().any(|e| e["action"] == "POST /ui/login");
        if viewed && signed_in {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(seen, "the view and the sign-in are in the audit trail");

    // logout ends the session
    let csrf = hidden(&get(&a, &mut jar, "/ui/verify").await.body, "csrf");
    let stale = jar.clone();
    let p = form(&a, &mut jar, "/ui/logout", &[("csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let mut stale = stale;
    let p = get(&a, &mut stale, "/ui/objects").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(p.location().starts_with("/ui/login"));
}

#[tokio::test]
async fn a_revoked_token_ends_its_sessions_and_tenants_stay_apart() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let aoid = sealed_object(&a, b"%PDF-1.7 t1").await;
    // another tenant's auditor does not find t1's object
    let mut other = sign_in(&a, &a.tokens["t2-auditor"]).await;
    let p = get(&a, &mut other, &format!("/ui/objects/{aoid}")).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    let p = get(&a, &mut other, "/ui/objects?file_ref=AZ%2063-2026%2F17").await;
    assert!(!p.body.contains(&aoid));
    assert!(p.body.contains("id=\"no-results\""));
    let p = get(&a, &mut other, &format!("/v1/objects/{aoid}/evidence")).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);

    // revoking the token ends the session at its next request
    let mut jar = sign_in(&a, &a.tokens["auditor"]).await;
    assert_eq!(
        get(&a, &mut jar, "/ui/objects").await.status,
        StatusCode::OK
    );
    let id = a.tokens["auditor"].split('_').nth(1).unwrap().to_string();
    let (st, _, b) = send(
        &a.router,
        Request::delete(format!("/v1/admin/tokens/{id}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(st.is_success(), "{st} {}", String::from_utf8_lossy(&b));
    let p = get(&a, &mut jar, "/ui/objects").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(p.location().starts_with("/ui/login"));
}

#[tokio::test]
async fn every_page_in_both_languages() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let doc = b"%PDF-1.7 Bescheid ueber die Baugenehmigung".to_vec();
    let aoid = sealed_object(&a, &doc).await;
    for (lang, word) in [
        ("de", "Archivobjekte suchen"),
        ("en", "Search archive objects"),
    ] {
        let mut jar = sign_in(&a, &a.tokens["auditor"]).await;
        let p = get(&a, &mut jar, &format!("/ui/lang/{lang}?back=/ui/objects")).await;
        assert_eq!(p.location(), "/ui/objects");
        let p = get(&a, &mut jar, "/ui/objects").await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(p.body.contains(word), "{lang}: {}", p.body);
        assert!(p.body.contains(&format!("<html lang=\"{lang}\">")));
        let p = get(&a, &mut jar, "/ui/objects?title=baugenehmigung").await;
        assert!(p.body.contains(&aoid), "{}", p.body);
        // the object page: its record verified on the server, PASSED
        let p = get(&a, &mut jar, &format!("/ui/objects/{aoid}")).await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        assert!(p.body.contains("data-indication=\"PASSED\""), "{}", p.body);
        assert!(p.body.contains("id=\"timeline\""));
        let p = get(&a, &mut jar, &format!("/ui/objects/{aoid}?v=7")).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND);
        let p = get(&a, &mut jar, "/ui/objects/not-an-id").await;
        assert_eq!(p.status, StatusCode::NOT_FOUND);
        assert!(p.body.contains("id=\"error-message\""));

        // the verify page: the document and its record, then a tampered document
        let (_, _, er) = send(
            &a.router,
            crate::api::get(&format!("/v1/objects/{aoid}/evidence")),
        )
        .await;
        let page = get(&a, &mut jar, "/ui/verify").await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = hidden(&page.body, "csrf");
        for (document, indication) in [
            (doc.clone(), "PASSED"),
            (b"%PDF-1.7 Bescheid - changed".to_vec(), "FAILED"),
        ] {
            let (ct, body) = multipart(&[
                ("csrf", "text/plain", csrf.as_bytes()),
                ("document", "application/pdf", &document),
                ("evidence", "application/octet-stream", &er),
            ]);
            let p = go(&a, &mut jar, crate::api::post("/ui/verify", &ct, body)).await;
            assert_eq!(p.status, StatusCode::OK, "{}", p.body);
            assert!(
                p.body
                    .contains(&format!("data-indication=\"{indication}\"")),
                "{}",
                p.body
            );
        }
        // no record: said so, nothing verified
        let (ct, body) = multipart(&[
            ("csrf", "text/plain", csrf.as_bytes()),
            ("document", "application/pdf", &doc),
        ]);
        let p = go(&a, &mut jar, crate::api::post("/ui/verify", &ct, body)).await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST);
        assert!(p.body.contains("id=\"verify-error\""));

        // the operator's dashboard, its series and the dry run
        let mut op = sign_in(&a, &a.tokens["operator"]).await;
        get(&a, &mut op, &format!("/ui/lang/{lang}?back=/ui/admin")).await;
        let p = get(&a, &mut op, "/ui/").await;
        assert_eq!(p.location(), "/ui/admin");
        let p = get(&a, &mut op, "/ui/admin").await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        for id in [
            "id=\"workers\"",
            "id=\"tsas\"",
            "id=\"audit\"",
            "id=\"ingest-plot\"",
            "data-state=\"running\"",
        ] {
            assert!(p.body.contains(id), "{id}: {}", p.body);
        }
        let p = get(&a, &mut op, "/ui/admin/panels").await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(p.body.starts_with("<div id=\"panels\""), "{}", p.body);
        let p = get(&a, &mut op, "/ui/admin/series.json").await;
        assert_eq!(p.status, StatusCode::OK);
        let series: serde_json::Value = serde_json::from_str(&p.body).unwrap();
        assert!(series["t"].is_array() && series["versions_per_min"].is_array());
        let csrf = hidden(&p_admin(&a, &mut op).await, "csrf");
        let p = form(&a, &mut op, "/ui/admin/dry-run", &[("csrf", &csrf)]).await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        assert!(p.body.contains("id=\"dry-run-result\""), "{}", p.body);
        assert!(
            p.body.contains("id=\"plan\"")
                || p.body.contains(if lang == "de" {
                    "Nichts ist geplant"
                } else {
                    "Nothing planned"
                })
        );
        // the operator sees no tenant's objects
        let p = get(&a, &mut op, "/ui/objects?file_ref=x").await;
        assert!(!p.body.contains(&aoid));
        // a tenant admin sees its tenant's dashboard: no TSAs, no plan
        let mut adm = sign_in(&a, &a.tokens["admin"]).await;
        let p = get(&a, &mut adm, "/ui/admin").await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        assert!(
            p.body.contains("id=\"workers\"")
                && !p.body.contains("id=\"tsas\"")
                && !p.body.contains("dry-run")
        );
        let p = get(&a, &mut adm, "/ui/admin/series.json").await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
    }
    // the static files
    let mut jar = Jar::default();
    for f in [
        "bewahr.css",
        "dashboard.js",
        "htmx.min.js",
        "uPlot.iife.min.js",
        "uPlot.min.css",
    ] {
        let p = get(&a, &mut jar, &format!("/ui/static/{f}")).await;
        assert_eq!(p.status, StatusCode::OK, "{f}");
    }
    assert_eq!(
        get(&a, &mut jar, "/ui/static/nope.js").await.status,
        StatusCode::NOT_FOUND
    );
    // a language switch never leads off the interface
    let p = get(&a, &mut jar, "/ui/lang/en?back=https://evil.example/").await;
    assert_eq!(p.location(), "/ui/");
}

async fn p_admin(a: &TestArchive, jar: &mut Jar) -> String {
    get(a, jar, "/ui/admin").await.body
}

#[tokio::test]
async fn a_pending_version_says_so_and_has_no_record_yet() {
    // an archive that does not seal for an hour
    let Some(a) =
        crate::api::archive_with(Db::Sqlite, |c| c.batch.interval_ms = 3_600_000, None).await
    else {
        return;
    };
    let (st, _, body) = send(
        &a.router,
        crate::api::post("/v1/objects", "application/octet-stream", "pending"),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let aoid = js(&body)["aoid"].as_str().unwrap().to_string();
    let mut jar = sign_in(&a, &a.tokens["auditor"]).await;
    let p = get(&a, &mut jar, &format!("/ui/objects/{aoid}")).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("id=\"evidence-pending\""), "{}", p.body);
    assert!(p.body.contains("data-state=\"pending\""));
    assert!(!p.body.contains("id=\"download-record\""));
    assert!(!p.body.contains("data-indication="));
}
