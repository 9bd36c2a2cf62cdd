//! The OpenAPI document against the live gateway: `schemathesis` (PyPI)
//! sends generated valid and invalid requests to every operation and
//! checks that none gets a 5xx and that every response (status, content
//! type, body) is the one the document describes.

use crate::harness::{System, test_python};

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_nothing() {
    let system = System::start().await;
    let (status, docs) = system.api().get("/docs").await;
    assert!(status == 200 && docs.contains("/openapi.json"), "{status}");
    let schemathesis = test_python().with_file_name("schemathesis");
    let reports = system.dir.path().join("schemathesis");
    let output = tokio::process::Command::new(&schemathesis)
        .args(["run", &format!("{}/openapi.json", system.http)])
        .args(["--header", &format!("Authorization: Bearer {}", system.api_key)])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        // The tenant's event stream never ends.
        .args(["--exclude-path", "/v1/events"])
        .args(["--max-examples", "25", "--seed", "1", "--workers", "2", "--no-color"])
        .args(["--generation-database", "none", "--report", "junit", "--report-dir"])
        .arg(&reports)
        .output()
        .await
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        system.logs()
    );
    system.stop().await;
}
