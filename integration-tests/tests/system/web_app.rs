//! The web app against the real system: its session cookie over plain HTTP
//! (sign in, CSRF refusals, sign out), then a user's whole visit in Debian's
//! chromium driven by `playwright-core` (integration-tests/browser), and the
//! PDF it downloaded read back with `pdftotext`. Screenshots of every page
//! land in `<target>/test-artifacts/web-app/`.

use crate::{
    fixtures::media_dir,
    harness::{System, bin_dir, repo_root},
};

/// Where the browser test leaves its screenshots and downloads.
fn artifacts_dir() -> std::path::PathBuf {
    bin_dir().parent().expect("target dir").join("test-artifacts/web-app")
}

/// The session cookie's rules, with a client that follows no redirects.
async fn session_rules(system: &System, key: &str) {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let sign_in = |origin: &'static str| {
        http.post(format!("{}/session", system.http)).header("origin", origin).form(&[("key", key)]).send()
    };
    let refused = sign_in("https://evil.example").await.expect("sign in");
    assert_eq!(refused.status().as_u16(), 403, "a sign-in from another site");
    let signed = http
        .post(format!("{}/session", system.http))
        .header("origin", &system.http)
        .form(&[("key", key)])
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed.status().as_u16(), 303);
    let cookie = signed.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let session = cookie.split(';').next().expect("pair").to_owned();
    let me = http.get(format!("{}/v1/session", system.http)).header("cookie", &session).send().await.expect("get");
    assert_eq!(me.status().as_u16(), 200);
    let me: serde_json::Value = me.json().await.expect("json");
    assert_eq!(me["tenant"], "web-a", "{me}");
    let bare = http.post(format!("{}/v1/jobs", system.http)).header("cookie", &session).json(&serde_json::json!({}));
    let bare = bare.send().await.expect("post");
    assert_eq!(bare.status().as_u16(), 403, "a cookie-signed POST without X-Steno-CSRF");
    assert!(bare.text().await.expect("body").contains("X-Steno-CSRF"));
    let bad = http.post(format!("{}/session", system.http)).form(&[("key", "steno_nope")]).send().await.expect("post");
    assert_eq!(bad.headers()["location"], "/?signin=refused");
    assert!(bad.headers().get("set-cookie").is_none());
    let out = http.post(format!("{}/session/end", system.http)).header("cookie", &session).send().await.expect("post");
    assert!(out.headers()["set-cookie"].to_str().expect("cookie").contains("Max-Age=0"));
    let page = http.get(&system.http).send().await.expect("get /");
    let policy = page.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(page.text().await.expect("page").contains("/app.js"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_visit_in_a_real_browser() {
    let system = System::start().await;
    let key = system.create_key("web-a", false);
    let other = system.create_key("web-b", false);
    session_rules(&system, &key).await;

    let artifacts = artifacts_dir();
    let _ = std::fs::remove_dir_all(&artifacts);
    let script = repo_root().join("integration-tests/browser/web_app.mjs");
    let output = tokio::process::Command::new("node")
        .arg(&script)
        .env("STENO_URL", &system.http)
        .env("STENO_KEY", &key)
        .env("STENO_OTHER_KEY", &other)
        .env("STENO_MEDIA", media_dir().join("speech.wav"))
        .env("STENO_ARTIFACTS", &artifacts)
        .output()
        .await
        .expect("run node (scripts/setup.sh --dev installs the browser test driver)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser test failed (screenshots in {}):\n{stdout}\n{}\n{}",
        artifacts.display(),
        String::from_utf8_lossy(&output.stderr),
        system.logs()
    );
    for page in ["01-sign-in", "02-upload", "04-jobs-completed", "05-job", "07-search", "10-other-tenant"] {
        assert!(artifacts.join(format!("{page}.png")).exists(), "no screenshot {page}");
    }

    // The PDF the browser downloaded: the words, the speaker's accented name.
    let pdf = artifacts.join("transcript.pdf");
    let text = std::process::Command::new("pdftotext").arg(&pdf).arg("-").output().expect("run pdftotext");
    assert!(text.status.success(), "pdftotext: {}", String::from_utf8_lossy(&text.stderr));
    let text = String::from_utf8_lossy(&text.stdout);
    for expected in ["José Núñez", "cheese", "remember", "speech.wav", "Page 1 of 1"] {
        assert!(text.contains(expected), "the PDF should say {expected:?}:\n{text}");
    }
    system.stop().await;
}
