//! The errors a client reports, checked as the `rask_core::Error` variants
//! a caller branches on, each still one sentence: against a real
//! `rask-scheduler` on 127.0.0.1, or an address where nothing listens.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{builtin_job, impure, scheduler, with_token};
use rask_core::Error;
use rask_sched_net::{Client, ClientOptions};

#[test]
fn nothing_listening_is_unreachable() {
    // A port that was free a moment ago, so nothing answers on it.
    let addr = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().to_string()
    };
    let err = Client::connect(&addr, ClientOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&addr), "{err}");

    let err = Client::connect("no-such-host.invalid:1", ClientOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
}

#[test]
fn a_missing_token_is_refused_and_too_few_workers_is_a_timeout() {
    let (_sched, addr) = scheduler("t");
    let err = Client::connect(&addr, ClientOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err:?}");
    assert!(err.to_string().ends_with("a token is required"), "{err}");

    let client = Client::connect(&addr, with_token("t")).unwrap();
    let err = client
        .wait_for_workers(1, Duration::from_millis(50))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("0 of 1 workers"), "{err}");
}

#[test]
fn a_scheduler_gone_is_disconnected() {
    let (mut sched, addr) = scheduler("t");
    let client = Client::connect(&addr, with_token("t")).unwrap();
    sched.child.kill().unwrap();
    sched.child.wait().unwrap();
    let (job, out) = builtin_job(10);
    // The client's IO thread sees the close on its next turn; a job
    // submitted before or after fails the same way.
    let deadline = Instant::now() + Duration::from_secs(10);
    let err = loop {
        let err = match client.submit_job(&job, &[out], &[], &impure()) {
            Ok(futures) => client.gather(&futures).unwrap_err(),
            Err(e) => e,
        };
        if matches!(err, Error::Disconnected { .. }) || Instant::now() > deadline {
            break err;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(matches!(err, Error::Disconnected { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "distributed scheduler: lost the connection to the scheduler"
    );
}
