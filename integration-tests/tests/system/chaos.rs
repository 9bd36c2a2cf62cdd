//! Chaos in the suite: 100 jobs with a random worker killed every 10 s
//! (`integration_tests::chaos` has the run; the bench runs 1,000).

use std::time::Duration;

use integration_tests::chaos::run;

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_jobs_survive_workers_killed_every_ten_seconds() {
    let (system, report) = run(100, Duration::from_secs(10), Duration::from_secs(900)).await;
    eprintln!("{}", report.table());
    assert_eq!(report.in_ledger, 100, "{report:?}");
    assert_eq!(report.completed, 100, "{report:?}\n{}", system.logs());
    assert_eq!((report.duplicated, report.lost), (0, 0), "{report:?}");
    system.stop().await;
}
