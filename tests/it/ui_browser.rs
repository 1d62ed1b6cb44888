//! The web interface in a real browser: Debian's Chromium driven through
//! chromedriver (WebDriver, the `fantoccini` crate) against the archive
//! served on a loopback port. Log in, search, open an object and see its
//! record PASSED, verify an uploaded record and a tampered document, the
//! operator's dashboard with its plot drawn; no console errors on any page
//! (a Content-Security-Policy violation is one). With
//! `BEWAHR_SCREENSHOTS=<dir>` each page is saved there as PNG (the README's
//! pictures: `BEWAHR_SCREENSHOTS=docs/screenshots`).
//!
//! Skipped without `chromedriver` and `chromium`, unless
//! `BEWAHR_REQUIRE_PEERS=1` (CI), where their absence fails.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

use crate::api::{archive, send, Db};
use crate::support::*;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromium() -> Option<&'static str> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
}

/// chromedriver on a free port, and a headless Chromium session.
async fn browser() -> Option<(Driver, Client, u16)> {
    let (Some(chrome), true) = (chromium(), have("chromedriver", &["--version"])) else {
        if std::env::var("BEWAHR_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!(
                "chromium and chromedriver are required (apt-get install chromium chromium-driver)"
            );
        }
        eprintln!("SKIPPED: chromium or chromedriver not installed");
        return None;
    };
    let port = free_port();
    let driver = Driver(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver"),
    );
    let caps: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chrome,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--lang=de-DE", "--no-first-run"]
        },
        "goog:loggingPrefs": { "browser": "ALL" }
    }))
    .unwrap();
    let mut last = None;
    for _ in 0..50 {
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps.clone());
        let b = builder.connect(&format!("http://127.0.0.1:{port}")).await;
        match b {
            Ok(c) => return Some((driver, c, port)),
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    panic!("no WebDriver session: {last:?}");
}

/// The browser's console since the last call (chromedriver's log endpoint).
async fn console(c: &Client, port: u16) -> Vec<serde_json::Value> {
    let id = c.session_id().await.unwrap().unwrap();
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/session/{id}/se/log"))
        .json(&serde_json::json!({"type": "browser"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["value"].as_array().cloned().unwrap_or_default()
}

/// The checks of WCAG 2.1 a page can make of itself: the language is
/// declared, one main heading, every visible form control has a label,
/// every button and link says something, every table has header cells.
async fn accessible(c: &Client, page: &str) {
    let problems = c
        .execute(
            r#"
            const p = [];
            if (!document.documentElement.lang) p.push("no lang");
            if (document.querySelectorAll("h1").length !== 1) p.push("not one h1");
            for (const i of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
                if (!i.labels || i.labels.length === 0) p.push("no label: " + (i.id || i.name));
            }
            for (const b of document.querySelectorAll("button, a")) {
                if (!b.textContent.trim() && !b.getAttribute("aria-label")) p.push("empty: " + b.outerHTML);
            }
            for (const t of document.querySelectorAll("table")) {
                if (!t.querySelector("th")) p.push("table without header cells");
            }
            return p;
            "#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(problems, serde_json::json!([]), "{page}");
}

async fn no_console_errors(c: &Client, port: u16, page: &str) {
    accessible(c, page).await;
    let errors: Vec<_> = console(c, port)
        .await
        .into_iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "{page}: console errors: {errors:#?}");
}

async fn shot(c: &Client, name: &str) {
    if let Ok(dir) = std::env::var("BEWAHR_SCREENSHOTS") {
        std::fs::create_dir_all(&dir).unwrap();
        // the whole page: the window as tall as the document
        let h = c
            .execute("return document.documentElement.scrollHeight", vec![])
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(1000)
            .clamp(600, 4000);
        c.set_window_size(1280, h as u32 + 140).await.unwrap();
        let png = c.screenshot().await.unwrap();
        c.set_window_size(1280, 1000).await.unwrap();
        std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), png).unwrap();
    }
}

async fn attr(c: &Client, css: &str, name: &str) -> String {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .attr(name)
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Types `text` into the element `at`.
async fn fill(c: &Client, at: Locator<'_>, text: &str) {
    c.find(at).await.unwrap().send_keys(text).await.unwrap();
}

/// Clicks the element `at`.
async fn press(c: &Client, at: Locator<'_>) {
    c.find(at).await.unwrap().click().await.unwrap();
}

/// The dashboard's plot: uPlot's canvas, drawn from the series.
async fn plot_drawn(c: &Client) {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#ingest-plot[data-drawn='true'] canvas"))
        .await
        .unwrap_or_else(|e| panic!("the plot was not drawn: {e}"));
}

async fn sign_in(c: &Client, base: &str, token: &str) {
    c.goto(&format!("{base}/ui/")).await.unwrap();
    c.wait().for_element(Locator::Id("token")).await.unwrap();
    fill(c, Locator::Id("token"), token).await;
    press(c, Locator::Id("login")).await;
    c.wait().for_element(Locator::Id("logout")).await.unwrap();
}

async fn sign_out(c: &Client) {
    press(c, Locator::Id("logout")).await;
    c.wait().for_element(Locator::Id("token")).await.unwrap();
}

#[tokio::test]
async fn an_auditor_and_an_operator_in_a_browser() {
    let Some((_driver, c, port)) = browser().await else {
        return;
    };
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let doc = b"%PDF-1.7 Bescheid ueber die Baugenehmigung, Ringstrasse 7".to_vec();
    let aoid = crate::ui::sealed_object(&a, &doc).await;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(bewahr::tls::serve(
        l,
        a.raw.clone(),
        None,
        Default::default(),
        std::future::pending(),
    ));

    // the login page (German by default)
    c.goto(&format!("{base}/ui/objects")).await.unwrap();
    c.wait().for_element(Locator::Id("token")).await.unwrap();
    assert_eq!(attr(&c, "html", "lang").await, "de");
    shot(&c, "login").await;
    no_console_errors(&c, port, "login").await;

    // an auditor signs in and searches by file reference
    fill(&c, Locator::Id("token"), &a.tokens["auditor"]).await;
    press(&c, Locator::Id("login")).await;
    c.wait().for_element(Locator::Id("file_ref")).await.unwrap();
    fill(&c, Locator::Id("file_ref"), "AZ 63-2026/17").await;
    press(&c, Locator::Id("search")).await;
    let link = c
        .wait()
        .for_element(Locator::Css(&format!(
            "#results a[href='/ui/objects/{aoid}']"
        )))
        .await
        .unwrap();
    shot(&c, "search").await;
    no_console_errors(&c, port, "search").await;

    // the object: its record verified on the server
    link.click().await.unwrap();
    assert_eq!(attr(&c, "#verdict", "data-indication").await, "PASSED");
    c.find(Locator::Css("#timeline li")).await.unwrap();
    shot(&c, "object").await;
    no_console_errors(&c, port, "object").await;

    // the verify page: the document with its record, then a tampered one
    let dir = tempdir();
    let (_, _, er) = send(
        &a.router,
        crate::api::get(&format!("/v1/objects/{aoid}/evidence")),
    )
    .await;
    let record = dir.path().join("record.ers");
    std::fs::write(&record, &er).unwrap();
    let good = dir.path().join("bescheid.pdf");
    std::fs::write(&good, &doc).unwrap();
    let bad = dir.path().join("bescheid-changed.pdf");
    let mut tampered = doc.clone();
    tampered[10] ^= 1;
    std::fs::write(&bad, &tampered).unwrap();
    for (file, indication, name) in [
        (&good, "PASSED", "verify"),
        (&bad, "FAILED", "verify-tampered"),
    ] {
        c.goto(&format!("{base}/ui/verify")).await.unwrap();
        c.wait().for_element(Locator::Id("document")).await.unwrap();
        fill(&c, Locator::Id("document"), file.to_str().unwrap()).await;
        fill(&c, Locator::Id("evidence"), record.to_str().unwrap()).await;
        press(&c, Locator::Id("verify")).await;
        assert_eq!(
            attr(&c, "#verdict", "data-indication").await,
            indication,
            "{name}"
        );
        shot(&c, name).await;
        no_console_errors(&c, port, name).await;
    }

    // English on request, and back
    for lang in ["en", "de"] {
        press(&c, Locator::Css(&format!("a[hreflang='{lang}']"))).await;
        c.wait()
            .for_element(Locator::Css(&format!("html[lang='{lang}']")))
            .await
            .unwrap();
    }
    sign_out(&c).await;

    // some ingest for the dashboard's plot: rounds of submissions, the
    // series sampled after each (as its worker does every 10 s)
    for round in 0..8u64 {
        for i in 0..(1 + round % 4) {
            let body = vec![b'x'; 20_000 * (1 + i as usize + round as usize)];
            let (st, _, _) = send(
                &a.router,
                crate::api::post("/v1/objects", "application/pdf", body),
            )
            .await;
            assert_eq!(st, 201);
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        let s = a.state();
        s.sealer
            .activity()
            .sample(bewahr::activity::wall_ms(), s.sealer.pending() as u64);
    }
    // the operator's dashboard: the plot drawn, the panels live
    sign_in(&c, &base, &a.tokens["operator"]).await;
    c.goto(&format!("{base}/ui/admin")).await.unwrap();
    plot_drawn(&c).await;
    c.find(Locator::Css("#workers")).await.unwrap();
    press(&c, Locator::Id("dry-run")).await;
    c.wait()
        .for_element(Locator::Id("dry-run-result"))
        .await
        .unwrap();
    plot_drawn(&c).await;
    shot(&c, "dashboard").await;
    // the panels are swapped in again by htmx without errors
    tokio::time::sleep(Duration::from_secs(6)).await;
    c.find(Locator::Css("#panels #workers")).await.unwrap();
    no_console_errors(&c, port, "dashboard").await;
    c.close().await.unwrap();
}
