//! Writes the fuzz targets' seed corpora into `fuzz/seeds/corpus/<target>/`:
//! each seed is the target's few leading option bytes and then bytes made
//! by the project's own encoders (`Outbox`, `push_frame`, `encode_job`) or
//! CSV text like the seed notebook's. Run it from anywhere with
//! `cargo run --manifest-path fuzz/Cargo.toml -p rask-fuzz-seeds`; the
//! output is deterministic and checked in.

use std::path::{Path, PathBuf};

use rask_core::{Arg, Codec, JobBuilder, Op, TaskId};
use rask_sched_net::portable::encode_job;
use rask_sched_net::protocol::{
    AskOp, Answer, DataKey, FromClient, FromWorker, Hello, JobId, Outbox, PeerMsg, QueueOp,
    QueuedRef, Role, RunTime, ToClient, ToWorker, Welcome, WireError, WorkerId, WorkerInfo,
};
use rask_sched_procs::frame::{push_frame, ToChild, ToParent};

/// Worker `n` (never 0).
fn w(n: u32) -> WorkerId {
    WorkerId::new(n).expect("worker ids start at 1")
}

fn corpus(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).expect("the corpus directory can be made");
    dir
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).expect("a seed can be written");
}

/// Jobs using the built-in ops of `rask-worker`, by name, as a client
/// without a code key sends them.
fn jobs() -> Vec<(&'static str, Vec<u8>)> {
    let key = DataKey {
        job: JobId::new(7, 1),
        task: 3,
    };
    let mut out = Vec::new();

    let mut b = JobBuilder::new();
    let inc = b.op(&Op::new("inc", |x: &i64| x + 1));
    let add = b.op(&Op::new("add", |a: &i64, b: &i64| a + b));
    let one = b.lit(1i64);
    let t = b.task(inc, &[one]);
    let u = b.keyed_task("total", add, &[Arg::dep(t), Arg::dep(t)]);
    out.push(("diamond", encode_job(&b.finish(), &[u], &[], None)));

    let mut b = JobBuilder::new();
    let sum = b.op(&Op::new("sum_f64", |xs: rask_core::Inputs<f64>| {
        xs.sum::<f64>()
    }));
    let lits: Vec<Arg> = (0..5).map(|i| b.lit(f64::from(i) * 0.5)).collect();
    let parts: Vec<Arg> = lits.chunks(2).map(|c| Arg::dep(b.task(sum, c))).collect();
    let total = b.task(sum, &parts);
    out.push(("tree", encode_job(&b.finish(), &[total], &[], None)));

    // A future from an earlier job passed in as an argument.
    let mut b = JobBuilder::new();
    let ext = b.op(&Op::new("inc", |x: &i64| x + 1));
    let square = b.op(&Op::new("square", |x: &i64| x * x));
    let earlier = b.task(ext, &[]);
    let sq = b.task(square, &[Arg::dep(earlier)]);
    let text = b.lit(String::from("a name"));
    let noop = b.op(&Op::new("noop", || ()));
    let n = b.task(noop, &[text]);
    out.push((
        "external",
        encode_job(
            &b.finish(),
            &[sq, n],
            &[(earlier, key, Codec::of::<i64>())],
            None,
        ),
    ));

    let mut b = JobBuilder::new();
    let range = b.op(&Op::new("range", |n: &i64| (0..*n).collect::<Vec<i64>>()));
    let total = b.op(&Op::new("total", |v: &Vec<i64>| v.iter().sum::<i64>()));
    let ten = b.lit(10i64);
    let r = b.task(range, &[ten]);
    let t = b.keyed_task("sum-of-range", total, &[Arg::dep(r)]);
    out.push(("range", encode_job(&b.finish(), &[t, TaskId(0)], &[], None)));

    out.into_iter()
        .map(|(name, r)| (name, r.expect("the seed jobs encode")))
        .collect()
}

fn net_frames(specs: &[(&str, Vec<u8>)]) {
    let dir = corpus("net_frames");
    let key = DataKey {
        job: JobId::new(1, 5),
        task: 9,
    };
    let run = RunTime {
        nanos: 12_345,
        ago_us: 67,
        thread: 1,
    };
    let (_, spec) = &specs[0];
    let payload: Vec<u8> = (0..200u8).collect();
    let mut frames: Vec<(&str, Outbox)> = Vec::new();
    let mut one = |name, push: &dyn Fn(&mut Outbox)| {
        let mut out = Outbox::new();
        push(&mut out);
        frames.push((name, out));
    };
    one("hello-client", &|o| {
        o.push(&Hello::new(Role::Client, Some("s3cret")))
    });
    one("hello-worker", &|o| {
        o.push(&Hello::new(
            Role::Worker(WorkerInfo {
                listen: "127.0.0.1:4000".into(),
                nthreads: 4,
                memory_limit: 1 << 30,
                ops: vec!["inc".into(), "add".into()],
                codecs: vec!["i64".into()],
                code_id: Some(0xfeed),
                pid: 4242,
                resources: vec![("GPU".into(), 2.0)],
            }),
            None,
        ))
    });
    one("welcome", &|o| {
        o.push(&Welcome::Accepted { id: 3 });
        o.push(&Welcome::Refused {
            reason: "wrong token".into(),
        });
    });
    one("from-worker", &|o| {
        o.push(&FromWorker::Done { key, bytes: 8, run });
        o.push(&FromWorker::Failed {
            key,
            message: "boom".into(),
            origin: Some(("inc-1".into(), "inc".into())),
            run: Some(run),
        });
        o.push(&FromWorker::Missing { key, input: key });
        o.push(&FromWorker::Returned { key });
        o.push(&FromWorker::Status {
            memory: 1 << 20,
            executing: 2,
            queued: 5,
            paused: false,
            cpu_permille: 1500,
            spilled: 0,
        });
        o.push(&FromWorker::Replicated { key });
    });
    one("from-client", &|o| {
        o.push(&FromClient::Submit { job: key.job, spec });
        o.push(&FromClient::Release { job: key.job });
        o.push(&FromClient::ReleaseOutputs {
            job: key.job,
            tasks: vec![3],
        });
        o.push(&FromClient::Forget { job: key.job });
        o.push(&FromClient::Ask {
            request: 1,
            op: AskOp::Publish {
                name: "x".into(),
                keys: vec![(key, "i64".into())],
                replace: true,
            },
        });
        o.push(&FromClient::Ask {
            request: 2,
            op: AskOp::List,
        });
        o.push(&FromClient::Ask {
            request: 3,
            op: AskOp::Replicate {
                keys: vec![key],
                n: 2,
            },
        });
        o.push(&FromClient::Ask {
            request: 4,
            op: AskOp::WhoHas { keys: vec![key] },
        });
        o.push(&FromClient::Queue {
            request: 5,
            name: "q".into(),
            op: QueueOp::Put(QueuedRef::Value(&[1, 2], "i64")),
        });
        o.push(&FromClient::Queue {
            request: 6,
            name: "q".into(),
            op: QueueOp::Get {
                type_name: "i64".into(),
                timeout_ms: 10,
            },
        });
    });
    one("to-worker", &|o| {
        o.push(&ToWorker::Job { job: key.job, spec });
        o.push(&ToWorker::Run {
            key,
            priority: 3,
            fetch: vec![(key, w(2))],
        });
        o.push(&ToWorker::Release { keys: vec![key] });
        o.push(&ToWorker::Replicate { key, from: w(2) });
        o.push(&ToWorker::DropJob { job: key.job });
        o.push(&ToWorker::Steal { max: 4 });
        o.push(&ToWorker::Peers {
            add: vec![(w(2), "127.0.0.1:4001".into())],
            remove: vec![w(1)],
            heartbeat_ms: 6_000,
        });
        o.push(&ToWorker::Shutdown);
    });
    one("to-client", &|o| {
        o.push(&ToClient::Workers {
            add: vec![(w(2), "127.0.0.1:4001".into())],
            remove: vec![],
        });
        o.push(&ToClient::Done {
            job: key.job,
            outputs: vec![(1, w(2))],
        });
        o.push(&ToClient::Failed {
            job: key.job,
            error: WireError::Task {
                key: "inc-1".into(),
                op: "inc".into(),
                message: "boom".into(),
            },
        });
        o.push(&ToClient::Failed {
            job: key.job,
            error: WireError::KilledWorker {
                key: "inc-1".into(),
                op: "inc".into(),
                workers: 3,
            },
        });
        o.push(&ToClient::Reply {
            request: 1,
            reply: Answer::Keys(vec![(key, "i64".into())]),
        });
        o.push(&ToClient::Reply {
            request: 2,
            reply: Answer::Names(vec!["x".into()]),
        });
        o.push(&ToClient::Reply {
            request: 4,
            reply: Answer::Holders(vec![vec![w(1), w(2)]]),
        });
    });
    one("peer", &|o| {
        o.push(&PeerMsg::Get {
            keys: vec![key, key],
        });
        // A result: its bulk payload, then the frame naming it.
        o.push_bulk(std::sync::Arc::new(payload.to_vec()), &PeerMsg::Data { key });
        o.push(&PeerMsg::Missing { key });
    });
    let mut all = Vec::new();
    for (name, mut out) in frames {
        let mut wire = Vec::new();
        out.write_to(&mut wire).expect("a Vec takes every byte");
        all.extend_from_slice(&wire);
        // Limit byte 2: the default limit; step byte 255: big reads.
        write(&dir, name, &[&[2u8, 255][..], &wire].concat());
    }
    // Every frame back to back, arriving a few bytes at a time.
    write(&dir, "all-trickled", &[&[2u8, 1][..], &all].concat());
}

fn procs_frames() {
    let dir = corpus("procs_frames");
    let mut out = Vec::new();
    let value = postcard::to_allocvec(&vec![1i64, -2, 3]).expect("a Vec<i64> encodes");
    let mut frame =
        |m: &dyn Fn(&mut Vec<u8>) -> Result<(), String>| m(&mut out).expect("a seed frame encodes");
    frame(&|o| push_frame(o, &ToChild::Run { task: 1 }, |_| Ok(())));
    frame(&|o| {
        push_frame(o, &ToChild::Put { task: 300 }, |t| {
            t.extend_from_slice(&value);
            Ok(())
        })
    });
    frame(&|o| push_frame(o, &ToChild::Get { task: 2 }, |_| Ok(())));
    frame(&|o| push_frame(o, &ToChild::Release { task: 2 }, |_| Ok(())));
    frame(&|o| {
        push_frame(
            o,
            &ToParent::Done {
                task: 1,
                start_ns: 10,
                end_ns: 99,
            },
            |_| Ok(()),
        )
    });
    frame(&|o| {
        push_frame(
            o,
            &ToParent::Failed {
                task: 1,
                start_ns: 10,
                end_ns: 99,
                message: "boom".into(),
                origin: Some(("inc-1".into(), "inc".into())),
            },
            |_| Ok(()),
        )
    });
    frame(&|o| {
        push_frame(o, &ToParent::Value { task: 2 }, |t| {
            t.extend_from_slice(&value);
            Ok(())
        })
    });
    frame(&|o| {
        push_frame(
            o,
            &ToParent::Broken {
                message: "cannot decode".into(),
            },
            |_| Ok(()),
        )
    });
    write(&dir, "all-whole", &[&[255u8][..], &out].concat());
    write(&dir, "all-pieces", &[&[2u8][..], &out].concat());
}

fn job_spec(specs: &[(&str, Vec<u8>)]) {
    let dir = corpus("job_spec");
    for (name, spec) in specs {
        write(&dir, name, spec);
    }
}

const CSV: &[(&str, &str)] = &[
    ("notebook", "Key,Value,Name\n969518,136.813470,Frank\n241692,139.070165,Edith\n263969,668.874202,Kevin\n"),
    ("quoted", "id,text,score\n1,\"a, b\",2.5\n2,\"say \"\"hi\"\"\",-3\r\n3,,\n\n4,\"multi\nline\",1e3\n"),
    ("ragged", "a;b;c\n1;2\n;;\n+7; 8 ;x\n-9223372036854775808;inf;NaN\n"),
    ("bom-crlf", "\u{feff}k\tv\r\n1\t.5\r\n2\t-0.25e-3\r\n"),
];

fn csv() {
    let scan_dir = corpus("csv_scan");
    let read_dir = corpus("csv_read");
    for (name, text) in CSV {
        // Default dialect, all fields, whole buffer, end of file.
        write(
            &scan_dir,
            name,
            &[&[b',', b'"', 255, 128, 0][..], text.as_bytes()].concat(),
        );
        // Two wanted fields, a cut owned range, more bytes to come.
        write(
            &scan_dir,
            &format!("{name}-cut"),
            &[&[b',', b'"', 2, 100, 0x10 | 0x40][..], text.as_bytes()].concat(),
        );
        write(&read_dir, name, &[&[0u8, 1][..], text.as_bytes()].concat());
    }
    write(
        &read_dir,
        "semicolons",
        &[&[1u8, 0][..], CSV[2].1.as_bytes()].concat(),
    );
}

fn main() {
    let specs = jobs();
    net_frames(&specs);
    procs_frames();
    job_spec(&specs);
    csv();
    println!("seeds written under {}", corpus("").display());
}
