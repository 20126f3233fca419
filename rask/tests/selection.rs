//! Scheduler selection: names, aliases, precedence, errors. One test
//! function, because the process-wide setting and the environment are
//! shared by every thread of this test binary.

use rask::{
    current_backend, delayed, reset_scheduler, scoped, set_scheduler, Backend, Error, Options,
};

#[test]
fn names_aliases_and_precedence() {
    // Aliases.
    for (name, backend) in [
        ("sync", Backend::Sync),
        ("synchronous", Backend::Sync),
        ("single-threaded", Backend::Sync),
        ("threads", Backend::Threads),
        ("threading", Backend::Threads),
        ("processes", Backend::Processes),
        ("multiprocessing", Backend::Processes),
        ("distributed", Backend::Distributed),
        ("dask.distributed", Backend::Distributed),
    ] {
        assert_eq!(name.parse::<Backend>().unwrap(), backend, "{name}");
    }

    // Unknown names list the valid ones.
    let err = "gpu".parse::<Backend>().unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("unknown scheduler `gpu`; valid names: sync, synchronous"),
        "{text}"
    );
    assert!(text.contains("dask.distributed"), "{text}");

    // `distributed` with no client made yet says how to make one (this
    // test binary never starts a cluster).
    let d = delayed(|x: &i64| x + 1).call((1,));
    let err = d
        .compute_with(&Options::new().scheduler("distributed"))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no client is active: create one with `Client::local()`"),
        "{err}"
    );
    let procs = Options::new().scheduler("multiprocessing").num_workers(2);
    assert_eq!(d.compute_with(&procs).unwrap(), 2);

    // Precedence: default < environment < process-wide < scoped < per call.
    std::env::remove_var("RASK_SCHEDULER");
    reset_scheduler();
    assert_eq!(current_backend().unwrap(), Backend::Threads, "default");
    std::env::set_var("RASK_SCHEDULER", "single-threaded");
    assert_eq!(current_backend().unwrap(), Backend::Sync, "environment");
    std::env::set_var("RASK_SCHEDULER", "nonsense");
    assert!(
        matches!(current_backend(), Err(Error::UnknownScheduler { .. })),
        "a bad environment value is an error"
    );
    set_scheduler("threading", None).unwrap();
    assert_eq!(
        current_backend().unwrap(),
        Backend::Threads,
        "process-wide beats environment"
    );
    set_scheduler("sync", None).unwrap();
    {
        let _outer = scoped("threads", Some(2)).unwrap();
        assert_eq!(
            current_backend().unwrap(),
            Backend::Threads,
            "scoped beats process-wide"
        );
        {
            let _inner = scoped("synchronous", None).unwrap();
            assert_eq!(
                current_backend().unwrap(),
                Backend::Sync,
                "innermost scope wins"
            );
            // Per call beats everything.
            let s = Options::new()
                .scheduler("threads")
                .num_workers(3)
                .resolve()
                .unwrap();
            assert_eq!(s.name(), "threads");
        }
        assert_eq!(
            current_backend().unwrap(),
            Backend::Threads,
            "guard restored the outer scope"
        );
        // The scope is per thread: another thread sees the process-wide setting.
        let other = std::thread::spawn(|| current_backend().unwrap())
            .join()
            .unwrap();
        assert_eq!(other, Backend::Sync);
    }
    assert_eq!(
        current_backend().unwrap(),
        Backend::Sync,
        "back to process-wide"
    );
    assert!(set_scheduler("bogus", None).is_err());
    assert!(scoped("bogus", None).is_err());
    assert_eq!(Options::new().resolve().unwrap().name(), "sync");
    reset_scheduler();
    std::env::remove_var("RASK_SCHEDULER");
    assert_eq!(Options::new().resolve().unwrap().name(), "threads");

    // num_workers reaches the pool, and pools of one size are reused.
    let a = Options::new()
        .scheduler("threads")
        .num_workers(3)
        .resolve()
        .unwrap();
    let b = Options::new()
        .scheduler("threads")
        .num_workers(3)
        .resolve()
        .unwrap();
    assert!(
        std::ptr::addr_eq(std::sync::Arc::as_ptr(&a), std::sync::Arc::as_ptr(&b)),
        "the pool is persistent"
    );
    assert_eq!(
        d.compute_with(&Options::new().scheduler("threads").num_workers(3))
            .unwrap(),
        2
    );
}
