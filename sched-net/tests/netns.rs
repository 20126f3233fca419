//! Three hosts: the scheduler and two workers each in its own network
//! namespace, joined by veth pairs to a bridge this test creates (and
//! removes). Runs when the test has root and `ip`; otherwise it says why it
//! skipped.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rask_core::{Arg, Inputs, JobBuilder, Op};
use rask_sched_net::{Client, ClientOptions, SubmitOptions};

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The namespaces, bridge and processes of one run; torn down on drop.
struct Hosts {
    bridge: String,
    names: Vec<String>,
    procs: Vec<Child>,
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.kill();
            let _ = p.wait();
        }
        for n in &self.names {
            let _ = ip(&["netns", "del", n]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}

fn setup(tag: &str, subnet: u8) -> Result<Hosts, String> {
    let bridge = format!("rkb{tag}");
    let mut hosts = Hosts {
        bridge: bridge.clone(),
        names: Vec::new(),
        procs: Vec::new(),
    };
    ip(&["link", "add", &bridge, "type", "bridge"])?;
    ip(&[
        "addr",
        "add",
        &format!("10.{subnet}.0.1/24"),
        "dev",
        &bridge,
    ])?;
    ip(&["link", "set", &bridge, "up"])?;
    for (i, role) in ["s", "a", "b"].iter().enumerate() {
        let ns = format!("rk{tag}{role}");
        ip(&["netns", "add", &ns])?;
        hosts.names.push(ns.clone());
        let (outer, inner) = (format!("rk{tag}{role}o"), format!("rk{tag}{role}i"));
        ip(&[
            "link", "add", &outer, "type", "veth", "peer", "name", &inner,
        ])?;
        ip(&["link", "set", &inner, "netns", &ns])?;
        ip(&["link", "set", &outer, "master", &bridge])?;
        ip(&["link", "set", &outer, "up"])?;
        let addr = format!("10.{subnet}.0.{}/24", i + 2);
        ip(&[
            "netns", "exec", &ns, "ip", "addr", "add", &addr, "dev", &inner,
        ])?;
        ip(&["netns", "exec", &ns, "ip", "link", "set", &inner, "up"])?;
        ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"])?;
    }
    Ok(hosts)
}

#[test]
fn scheduler_and_workers_on_three_hosts() {
    let root = nix::unistd::Uid::effective().is_root();
    let has_ip = Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !root || !has_ip {
        println!("skipped: needs root and `ip` (root: {root}, ip: {has_ip})");
        return;
    }
    let tag = format!("{}", std::process::id() % 100_000);
    let subnet = 100 + (std::process::id() % 100) as u8;
    let mut hosts = match setup(&tag, subnet) {
        Ok(h) => h,
        Err(e) => {
            println!("skipped: cannot create network namespaces here: {e}");
            return;
        }
    };
    let sched_addr = format!("10.{subnet}.0.2:8786");
    let spawn = |ns: &str, bin: &str, args: &[&str]| -> Child {
        Command::new("ip")
            .args(["netns", "exec", ns, bin])
            .args(args)
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let host = format!("10.{subnet}.0.2");
    hosts.procs.push(spawn(
        &hosts.names[0],
        env!("CARGO_BIN_EXE_rask-scheduler"),
        &["--host", &host, "--port", "8786", "--token", "nets"],
    ));
    std::thread::sleep(Duration::from_millis(300));
    for ns in [hosts.names[1].clone(), hosts.names[2].clone()] {
        let w = spawn(
            &ns,
            env!("CARGO_BIN_EXE_rask-worker"),
            &[&sched_addr, "--token", "nets"],
        );
        hosts.procs.push(w);
    }
    let options = ClientOptions {
        token: Some("nets".into()),
        ..ClientOptions::default()
    };
    let mut client = None;
    for _ in 0..50 {
        if let Ok(c) = Client::connect(&sched_addr, options.clone()) {
            client = Some(c);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let client = client.expect("the scheduler in its namespace answers");
    client.wait_for_workers(2, Duration::from_secs(20)).unwrap();
    let addrs: Vec<String> = client.workers().into_iter().map(|(_, a)| a).collect();
    assert!(
        addrs
            .iter()
            .any(|a| a.starts_with(&format!("10.{subnet}.0.3:"))),
        "{addrs:?}"
    );
    assert!(
        addrs
            .iter()
            .any(|a| a.starts_with(&format!("10.{subnet}.0.4:"))),
        "{addrs:?}"
    );

    // Enough leaves that both workers run some; the sum moves data between hosts.
    let mut b = JobBuilder::new();
    let square = b.op(&Op::new("square", |x: &i64| x * x));
    let sum = b.op(&Op::new("sum", |xs: Inputs<i64>| xs.sum::<i64>()));
    let leaves: Vec<Arg> = (0..2000i64)
        .map(|i| {
            let l = b.lit(i);
            Arg::dep(b.task(square, &[l]))
        })
        .collect();
    let out = b.task(sum, &leaves);
    let job = Arc::new(b.finish());
    let v = client
        .gather(
            &client
                .submit_job(&job, &[out], &[], &SubmitOptions::default().pure(false))
                .unwrap(),
        )
        .unwrap();
    let expected: i64 = (0..2000i64).map(|i| i * i).sum();
    assert_eq!(v[0].downcast_ref::<i64>(), Some(&expected));
}
