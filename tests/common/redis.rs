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
        let port = port.unwrap_or_else(|| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        });
        let spawned = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(error) if std::env::var_os("CI").is_some() => {
                panic!("{test}: cannot start redis-server ({error}), and CI is set")
            }
            Err(error) => {
                eprintln!("\n*** SKIPPED {test}: cannot start redis-server ({error}) ***\n");
                return None;
            }
        };
        let server = OwnRedis { child, port };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !answers(port) {
            assert!(
                Instant::now() < deadline,
                "{test}: redis-server did not come up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
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
