//! Redis for the tests: the shared server, or one of a test's own that it
//! can kill and restart. Where none can be found or started, tests say
//! loudly that they skipped — unless `CI` is set, where that is a failure.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn answers(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300)).is_ok()
}

/// The shared Redis, or a skip (a failure under CI).
pub fn shared_redis(test: &str) -> Option<String> {
    if answers(6379) {
        return Some("redis://127.0.0.1:6379/".to_owned());
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: no Redis at 127.0.0.1:6379, and CI is set: .ci/run must start one");
    }
    eprintln!(
        "\n*** SKIPPED {test}: no Redis at 127.0.0.1:6379 (start redis-server to run it) ***\n"
    );
    None
}

/// A `redis-server` of this test's own, killed on drop.
pub struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    pub fn start(test: &str, port: Option<u16>) -> Option<OwnRedis> {
        let port = port.unwrap_or_else(free_port);
        let port_text = port.to_string();
        let child = spawn_server(test, &["--port", &port_text], None)?;
        let server = OwnRedis { child, port };
        wait_for(test, "redis-server did not come up", 5, || answers(port));
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn kill(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Redis Cluster of this test's own: `masters` nodes with one replica
/// each, on free ports, killed on drop. Where `redis-server` or
/// `redis-cli` is missing, the test says loudly that it skipped — unless
/// `CI` is set, where that is a failure.
pub struct OwnCluster {
    nodes: Vec<Child>,
    ports: Vec<u16>,
    dir: std::path::PathBuf,
}

impl OwnCluster {
    pub fn start(test: &str, masters: usize) -> Option<OwnCluster> {
        let dir = fresh_dir("cluster", test);
        let mut cluster = OwnCluster {
            nodes: Vec::new(),
            ports: Vec::new(),
            dir,
        };
        for _ in 0..masters * 2 {
            let port = free_port();
            let (port_text, config) = (port.to_string(), format!("nodes-{port}.conf"));
            let cluster_args = [
                "--port",
                &port_text,
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &config,
                "--cluster-node-timeout",
                "1000",
            ];
            cluster
                .nodes
                .push(spawn_server(test, &cluster_args, Some(&cluster.dir))?);
            cluster.ports.push(port);
        }
        wait_for(test, "cluster nodes did not come up", 5, || {
            cluster.ports.iter().all(|port| answers(*port))
        });
        let mut create = Command::new("redis-cli");
        create.args(["--cluster", "create"]);
        for port in &cluster.ports {
            create.arg(format!("127.0.0.1:{port}"));
        }
        let created = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output();
        match created {
            Ok(output) if output.status.success() => {}
            Ok(output) => panic!(
                "{test}: redis-cli --cluster create failed:\n{}",
                String::from_utf8_lossy(&output.stdout)
            ),
            Err(error) if std::env::var_os("CI").is_some() => {
                panic!("{test}: cannot run redis-cli ({error}), and CI is set")
            }
            Err(error) => {
                eprintln!("\n*** SKIPPED {test}: cannot run redis-cli ({error}) ***\n");
                return None;
            }
        }
        cluster.wait_until_ok(test);
        Some(cluster)
    }

    /// Waits (up to 15 s) until every live node says `cluster_state:ok`.
    pub fn wait_until_ok(&self, test: &str) {
        wait_for(test, "the cluster did not become ok", 15, || {
            self.ports
                .iter()
                .filter(|port| answers(**port))
                .all(|port| redis_cli(*port, &["cluster", "info"]).contains("cluster_state:ok"))
        });
    }

    /// `redis+cluster://` with every node.
    pub fn url(&self) -> String {
        format!("redis+cluster://{}", node_list(&self.ports))
    }

    /// Kills the master that holds `key`'s slot; returns its port.
    pub fn kill_master_of(&mut self, key: &str) -> u16 {
        let port = self.ports[0];
        let output = Command::new("redis-cli")
            .args(["-c", "-p", &port.to_string(), "cluster", "keyslot", key])
            .output()
            .unwrap();
        let slot: u16 = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap();
        let nodes = Command::new("redis-cli")
            .args(["-p", &port.to_string(), "cluster", "nodes"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&nodes.stdout).into_owned();
        let master_port = text
            .lines()
            .filter(|line| line.contains("master"))
            .find(|line| {
                line.split_whitespace().skip(8).any(|range| {
                    let (start, end) = range.split_once('-').unwrap_or((range, range));
                    matches!((start.parse::<u16>(), end.parse::<u16>()), (Ok(s), Ok(e)) if s <= slot && slot <= e)
                })
            })
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|address| address.split(['@', ':']).nth(1))
            .and_then(|port| port.parse::<u16>().ok())
            .expect("a master for the slot");
        let index = self.ports.iter().position(|p| *p == master_port).unwrap();
        let _ = self.nodes[index].kill();
        let _ = self.nodes[index].wait();
        master_port
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A master, its replica and three sentinels of this test's own, on free
/// ports, killed on drop (skipped loudly where `redis-server` is missing,
/// unless `CI` is set).
pub struct OwnSentinels {
    children: Vec<Child>,
    pub master: u16,
    pub replica: u16,
    pub sentinels: Vec<u16>,
    dir: std::path::PathBuf,
}

/// The arguments every data server of the tests gets.
const SERVER_ARGS: [&str; 6] = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];

/// A `redis-server` with `args` and [`SERVER_ARGS`] (see [`spawn_redis`]).
fn spawn_server(test: &str, args: &[&str], dir: Option<&std::path::Path>) -> Option<Child> {
    let all: Vec<&str> = args.iter().copied().chain(SERVER_ARGS).collect();
    spawn_redis(test, &all, dir)
}

/// `redis-server args…` (in `dir`), or a loud skip where it cannot start
/// (a failure under CI).
fn spawn_redis(test: &str, args: &[&str], dir: Option<&std::path::Path>) -> Option<Child> {
    let mut command = Command::new("redis-server");
    command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    match command.spawn() {
        Ok(child) => Some(child),
        Err(error) if std::env::var_os("CI").is_some() => {
            panic!("{test}: cannot start redis-server ({error}), and CI is set")
        }
        Err(error) => {
            eprintln!("\n*** SKIPPED {test}: cannot start redis-server ({error}) ***\n");
            None
        }
    }
}

/// Polls `ready` until it holds, failing the test with `what` after
/// `seconds`.
fn wait_for(test: &str, what: &str, seconds: u64, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !ready() {
        assert!(Instant::now() < deadline, "{test}: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `127.0.0.1:p1,127.0.0.1:p2,…`
fn node_list(ports: &[u16]) -> String {
    let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    nodes.join(",")
}

/// An empty directory of this test's own under the system's temp dir.
fn fresh_dir(kind: &str, test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tt-{kind}-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

impl OwnSentinels {
    pub const SERVICE: &'static str = "orders";

    pub fn start(test: &str) -> Option<OwnSentinels> {
        let dir = fresh_dir("sentinel", test);
        let (master, replica) = (free_port(), free_port());
        let mut set = OwnSentinels {
            children: Vec::new(),
            master,
            replica,
            sentinels: Vec::new(),
            dir,
        };
        let (master_text, replica_text) = (master.to_string(), replica.to_string());
        let master_args = ["--port", &master_text];
        let replica_args = [
            "--port",
            &replica_text,
            "--replicaof",
            "127.0.0.1",
            &master_text,
        ];
        for args in [&master_args[..], &replica_args[..]] {
            set.children.push(spawn_server(test, args, None)?);
        }
        for _ in 0..3 {
            let port = free_port();
            let config = set.dir.join(format!("sentinel-{port}.conf"));
            std::fs::write(
                &config,
                format!(
                    "port {port}\nbind 127.0.0.1\nsentinel monitor {service} 127.0.0.1 {master} 2\n\
                     sentinel down-after-milliseconds {service} 1000\n\
                     sentinel failover-timeout {service} 5000\n",
                    service = Self::SERVICE
                ),
            )
            .unwrap();
            let config = config.to_string_lossy().into_owned();
            set.children
                .push(spawn_redis(test, &[&config, "--sentinel"], None)?);
            set.sentinels.push(port);
        }
        wait_for(test, "the sentinel set did not come up", 40, || {
            let linked =
                redis_cli(replica, &["info", "replication"]).contains("master_link_status:up");
            linked
                && set.sentinels.iter().all(|port| {
                    redis_cli(*port, &["sentinel", "replicas", Self::SERVICE])
                        .contains(&replica.to_string())
                })
        });
        Some(set)
    }

    pub fn url(&self) -> String {
        format!(
            "redis+sentinel://{}/{}",
            node_list(&self.sentinels),
            Self::SERVICE
        )
    }

    /// Kills the master and waits (up to 40 s: a loaded machine is slow to
    /// elect) until the sentinels name the replica as the new master.
    pub fn fail_over(&mut self, test: &str) {
        let _ = self.children[0].kill();
        let _ = self.children[0].wait();
        let (sentinel, replica) = (self.sentinels[0], self.replica.to_string());
        wait_for(test, "no failover", 40, || {
            redis_cli(
                sentinel,
                &["sentinel", "get-master-addr-by-name", Self::SERVICE],
            )
            .contains(&replica)
        });
    }
}

impl Drop for OwnSentinels {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A key prefix no other test (or run) uses.
pub fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("tt-test:{test}:{}:{nanos}", std::process::id())
}
