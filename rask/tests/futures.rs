//! The futures API on a real local cluster (worker processes re-executed
//! from this test binary): the seed's map/submit/gather cell, futures as
//! arguments, datasets shared between clients, and a streaming map with
//! a bound on the work in flight.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rask::distributed::{FutureStatus, LocalOptions, ReturnWhen};
use rask::{delayed, Client, Error, Inputs, Options};

mod common;
use common::{eventually, held};

fn square(x: &i64) -> i64 {
    x * x
}

fn total(xs: Inputs<i64>) -> i64 {
    xs.sum()
}

/// One cluster for the whole file; tests take turns on it.
fn cluster() -> std::sync::MutexGuard<'static, Client> {
    static CLUSTER: std::sync::OnceLock<Mutex<Client>> = std::sync::OnceLock::new();
    let options = LocalOptions {
        workers: 2,
        ..LocalOptions::default()
    };
    common::shared_cluster(&CLUSTER, options)
}

#[test]
fn the_seed_cell_map_submit_sum_gather() {
    let client = cluster();
    let a = client.map(square, 1..10i64).unwrap();
    let b = client.submit(total, &a).unwrap();
    assert_eq!(b.result().unwrap(), 285);
    assert_eq!(
        client.gather(&a).unwrap(),
        [1, 4, 9, 16, 25, 36, 49, 64, 81]
    );
    // A future is also an argument of a delayed call on any scheduler: its
    // value is fetched first.
    let c = delayed(|x: &i64| x + 1).call((&b,));
    assert_eq!(
        c.compute_with(&Options::new().scheduler("sync")).unwrap(),
        286
    );
    assert_eq!(client.compute(&c).unwrap(), 286);
}

#[test]
fn a_failed_future_fails_its_dependents_with_its_error() {
    let client = cluster();
    let bad = client
        .submit(
            rask::fallible(|s: &String| s.parse::<i64>()),
            ("x".to_owned(),),
        )
        .unwrap();
    let err = bad.wait().unwrap_err();
    assert!(err.to_string().contains("invalid digit"), "{err}");
    assert_eq!(bad.exception(), Some(err));
    let after = client.submit(square, (&bad,)).unwrap();
    let err = after.result().unwrap_err();
    assert!(err.to_string().contains("invalid digit"), "{err}");
}

#[test]
fn a_dataset_published_by_one_client_is_read_by_another() {
    let client = cluster();
    let a = client.map(square, 1..10i64).unwrap();
    client.publish_dataset("squares", &a).unwrap();
    let again = client.publish_dataset("squares", &a).unwrap_err();
    assert!(
        again.to_string().contains("`squares` already exists"),
        "{again}"
    );
    client.publish_value("answer", 42i64).unwrap();
    assert_eq!(client.list_datasets().unwrap(), ["answer", "squares"]);

    let cluster = client.raw().cluster().unwrap();
    let other = Client::connect_with(
        &cluster.addr().to_string(),
        rask::distributed::ClientOptions {
            code_key: None,
            ..cluster.client_options()
        },
    )
    .unwrap();
    client.clone().close(); // the first client stays the active one
    let got = other.get_dataset::<i64>("squares").unwrap();
    assert_eq!(
        other.gather(&got).unwrap(),
        [1, 4, 9, 16, 25, 36, 49, 64, 81]
    );
    let answer = other.get_dataset::<i64>("answer").unwrap();
    assert_eq!(answer[0].result().unwrap(), 42);
    let wrong = other.get_dataset::<String>("answer").unwrap_err();
    assert!(wrong.to_string().contains("holds `i64` values"), "{wrong}");
    let missing = other.get_dataset::<i64>("nope").unwrap_err();
    assert!(
        missing.to_string().contains("no dataset named `nope`"),
        "{missing}"
    );

    other.unpublish_dataset("squares").unwrap();
    other.unpublish_dataset("answer").unwrap();
    assert!(client.list_datasets().unwrap().is_empty());
}

fn slow_square(x: &i64) -> i64 {
    std::thread::sleep(Duration::from_millis(if x % 3 == 0 { 30 } else { 1 }));
    x * x
}

#[test]
fn map_stream_keeps_its_bound_and_yields_in_completion_order() {
    let client = cluster();
    const BOUND: usize = 4;
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let items = (0..40i64).inspect(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let mut stream = client.map_stream(slow_square, items, BOUND);
    let mut seen = Vec::new();
    while let Some(r) = stream.next() {
        seen.push(r.unwrap());
        // Pulled but not yet yielded: never more than the bound.
        let ahead = pulled.load(Ordering::SeqCst) - seen.len();
        assert!(ahead <= BOUND, "{ahead} items in flight, bound {BOUND}");
        assert!(stream.in_flight() < BOUND);
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    let expected: Vec<i64> = (0..40).map(|x| x * x).collect();
    assert_eq!(sorted, expected);
    // Slow items (multiples of 3) finish after quick ones sent later.
    assert_ne!(seen, expected, "results came back in input order");
}

fn nap(ms: &u64) -> u64 {
    std::thread::sleep(Duration::from_millis(*ms));
    *ms
}

#[test]
fn status_timeouts_and_cancelling_a_pending_future() {
    let client = cluster();
    let slow = client.submit(nap, (600u64,)).unwrap();
    assert_eq!(slow.status(), FutureStatus::Pending);
    let early = slow.result_timeout(Duration::from_millis(50)).unwrap_err();
    assert!(matches!(early, Error::Timeout { .. }), "{early:?}");
    assert!(early.to_string().contains("within"), "{early}");
    slow.cancel();
    assert_eq!(slow.status(), FutureStatus::Cancelled);
    let cancelled = slow.result().unwrap_err();
    assert!(
        matches!(cancelled, Error::Cancelled { .. }),
        "{cancelled:?}"
    );
    // A task needing a cancelled future fails the same way.
    let after = client.submit(nap, (&slow,)).unwrap();
    let after = after.result().unwrap_err();
    assert!(matches!(after, Error::Cancelled { .. }), "{after:?}");

    let quick = client.submit(nap, (1u64,)).unwrap();
    assert_eq!(quick.result_timeout(Duration::from_secs(20)).unwrap(), 1);
    assert_eq!(quick.status(), FutureStatus::Finished);
    quick.cancel(); // finished: nothing to stop
    assert_eq!(quick.result().unwrap(), 1);
}

#[test]
fn as_completed_yields_in_completion_order_and_takes_more_on_the_way() {
    let client = cluster();
    let futures: Vec<_> = [300u64, 20]
        .iter()
        .map(|ms| client.submit(nap, (*ms,)).unwrap())
        .collect();
    let mut stream = client.as_completed(futures);
    let mut order = Vec::new();
    let (_, first) = stream.next().unwrap();
    order.push(first.unwrap());
    stream.add(client.submit(nap, (100u64,)).unwrap());
    for (_, v) in stream {
        order.push(v.unwrap());
    }
    assert_eq!(order, [20, 100, 300]);
}

#[test]
fn wait_for_the_first_or_all_with_a_timeout() {
    let client = cluster();
    let futures: Vec<_> = [400u64, 10]
        .iter()
        .map(|ms| client.submit(nap, (*ms,)).unwrap())
        .collect();
    let (done, pending) = client.wait(&futures, ReturnWhen::FirstCompleted, None);
    assert_eq!((done, pending), (vec![1], vec![0]));
    let (_, pending) = client.wait(
        &futures,
        ReturnWhen::AllCompleted,
        Some(Duration::from_millis(1)),
    );
    assert_eq!(pending, [0]);
    let (done, _) = client.wait(&futures, ReturnWhen::AllCompleted, None);
    assert_eq!(done, [0, 1]);
}

/// Polls `f` to completion on this thread, parking between wake-ups.
fn block_on<F: std::future::IntoFuture>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f.into_future());
    for _ in 0..10_000 {
        if let std::task::Poll::Ready(v) = std::future::Future::poll(f.as_mut(), &mut cx) {
            return v;
        }
        std::thread::park_timeout(Duration::from_millis(100));
    }
    panic!("the future never completed");
}

#[test]
fn futures_are_awaitable_and_call_back_when_done() {
    let client = cluster();
    let f = client.submit(nap, (30u64,)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    f.add_done_callback(move |f| {
        let _ = tx.send(f.status());
    });
    assert_eq!(block_on(f.clone()).unwrap(), 30);
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)),
        Ok(FutureStatus::Finished)
    );
    let bad = client
        .submit(
            rask::fallible(|s: &String| s.parse::<u64>()),
            ("x".to_owned(),),
        )
        .unwrap();
    assert!(block_on(bad).is_err());
}

#[test]
fn scatter_and_gather_skipping_errors() {
    let client = cluster();
    let xs = client.scatter([5i64, 6, 7]).unwrap();
    let doubled: Vec<_> = xs
        .iter()
        .map(|x| {
            client
                .submit(
                    rask::fallible(|v: &i64| if *v == 6 { Err("six") } else { Ok(v * 2) }),
                    (x,),
                )
                .unwrap()
        })
        .collect();
    assert_eq!(client.gather_skipping_errors(&doubled), [(0, 10), (2, 14)]);
    assert!(client.gather(&doubled).is_err());

    let named = client
        .scatter_map([("a".to_owned(), 1i64), ("b".to_owned(), 2)])
        .unwrap();
    assert_eq!(named.len(), 2);
    assert_eq!(named["a"].result().unwrap(), 1);
    assert_eq!(named["b"].result().unwrap(), 2);
}

/// Another client of the shared cluster, as a second program would be.
fn second_client(client: &Client) -> Client {
    let cluster = client.cluster().unwrap();
    let other = Client::connect_with(
        &cluster.addr().to_string(),
        // This binary's functions run on the cluster's workers.
        cluster.client_options(),
    )
    .unwrap();
    other.clone().close(); // not the active client
    other
}

fn kept_cube(x: &i64) -> i64 {
    x * x * x
}

#[test]
fn dropping_one_output_of_a_map_releases_only_that_result() {
    let client = cluster();
    let link = client
        .dashboard_link()
        .expect("the local cluster has a dashboard");
    let mut cubes = client.map(kept_cube, 0..10i64).unwrap();
    client.wait(&cubes, ReturnWhen::AllCompleted, None);
    eventually((10, 0), || held(&link, "kept_cube"));

    // The first is published, then the first four futures go: three
    // results are released, the published one and the other six stay.
    client.publish_dataset("first-cube", &cubes[..1]).unwrap();
    let rest = cubes.split_off(4);
    drop(cubes);
    eventually((7, 3), || held(&link, "kept_cube"));
    assert_eq!(client.gather(&rest).unwrap(), [64, 125, 216, 343, 512, 729]);
    let first = client.get_dataset::<i64>("first-cube").unwrap();
    assert_eq!(first[0].result().unwrap(), 0);

    // Unpublished and unheld, the first one goes too.
    drop(first);
    client.unpublish_dataset("first-cube").unwrap();
    eventually((6, 4), || held(&link, "kept_cube"));
}

fn mark_after(path: &String, ms: &u64) -> u64 {
    std::thread::sleep(Duration::from_millis(*ms));
    std::fs::write(path, "done").unwrap();
    *ms
}

#[test]
fn a_fired_and_forgotten_job_finishes_after_its_client_has_gone() {
    let client = cluster();
    let dir = std::env::temp_dir().join(format!("rask-forget-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let marker = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (kept, dropped) = (marker("kept"), marker("dropped"));
    let _ = std::fs::remove_file(&kept);
    let _ = std::fs::remove_file(&dropped);
    {
        let other = second_client(&client);
        // A chain: the marker is written by the second task, which starts
        // only after the first's 300 ms, long after the client has gone.
        let chain = |path: &String| {
            let first = delayed(nap).call((300u64,));
            delayed(mark_after).call((path.clone(), &first))
        };
        let forgotten = other.persist(&chain(&kept)).unwrap();
        other.fire_and_forget(&forgotten);
        let _released = other.persist(&chain(&dropped)).unwrap();
    }
    let path = std::path::PathBuf::from(&kept);
    eventually(true, || path.exists());
    // The job that was not forgotten was dropped with its client.
    std::thread::sleep(Duration::from_millis(400));
    assert!(!std::path::Path::new(&dropped).exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_queue_carries_a_future_and_values_between_clients() {
    let client = cluster();
    let name = format!("handoff-{}", std::process::id());
    {
        let producer = second_client(&client);
        let q = producer.queue(&name);
        let f = producer.submit(square, (7i64,)).unwrap();
        q.put_future(&f).unwrap();
        q.put(5i64).unwrap();
        assert_eq!(q.qsize().unwrap(), 2);
    } // the producer and its future are gone

    let q = client.queue(&name);
    let wrong = q.get::<String>(Duration::from_secs(1)).unwrap_err();
    assert!(wrong.to_string().contains("not a `"), "{wrong}");
    let first = q.get::<i64>(Duration::from_secs(5)).unwrap().unwrap();
    assert!(matches!(first, rask::distributed::QueueItem::Future(_)));
    assert_eq!(first.value().unwrap(), 49);
    let second = q.get::<i64>(Duration::from_secs(5)).unwrap().unwrap();
    assert!(matches!(second, rask::distributed::QueueItem::Value(5)));
    assert_eq!(q.qsize().unwrap(), 0);
    assert!(q.get::<i64>(Duration::from_millis(100)).unwrap().is_none());

    // A get waiting on an empty queue takes what another client puts.
    let waiter = {
        let q = q.clone();
        std::thread::spawn(move || q.get::<i64>(Duration::from_secs(10)))
    };
    std::thread::sleep(Duration::from_millis(100));
    let producer = second_client(&client);
    producer.queue(&name).put(8i64).unwrap();
    let got = waiter.join().unwrap().unwrap().unwrap();
    assert_eq!(got.value().unwrap(), 8);
}

#[test]
fn a_future_put_on_a_queue_as_another_type_is_refused_naming_both() {
    let client = cluster();
    let name = format!("typed-{}", std::process::id());
    let f = client.submit(square, (3i64,)).unwrap();
    let item = rask_sched_net::QueueItem::Future(f.raw().clone());
    let as_text = rask_core::Codec::of::<String>();
    let err = client.raw().queue_put(&name, item, as_text).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("i64") && message.contains("String"),
        "{message}"
    );
    assert_eq!(
        client.queue(&name).qsize().unwrap(),
        0,
        "nothing was queued"
    );
}

#[test]
fn the_dashboard_link_is_known_to_local_and_connected_clients() {
    let client = cluster();
    let link = client.dashboard_link().unwrap();
    assert!(link.starts_with("http://127.0.0.1:"), "{link}");
    assert_eq!(second_client(&client).dashboard_link(), Some(link));
}
