//! Which Redis a fleet shares, and the connection to it: one server
//! (`redis://`, `rediss://`, through a connection manager that reconnects
//! by itself), a Redis Cluster (`redis+cluster://host:port,host:port`, or
//! `rediss+cluster://` with TLS; the cluster connection follows slot moves
//! and failovers by itself), or the master a Sentinel set names
//! (`redis+sentinel://host:port,host:port/service`; after a failure the
//! next call asks the sentinels again, so a failover is followed). Every key the fleet uses carries one hash tag
//! (the prefix, in braces), so its multi-key scripts run in cluster mode.

use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClient;
use ::redis::cluster_async::ClusterConnection;
use ::redis::sentinel::{SentinelClient, SentinelServerType};
use ::redis::{Client, Cmd, Pipeline, RedisFuture, RedisResult, Value};

/// The scheme that names a Sentinel set.
const SENTINEL_SCHEME: &str = "redis+sentinel://";

/// The scheme prefixes that name a cluster.
const CLUSTER_SCHEMES: [(&str, &str); 2] = [
    ("redis+cluster://", "redis://"),
    ("rediss+cluster://", "rediss://"),
];

/// Where the fleet's Redis is.
#[derive(Clone)]
pub(crate) enum RedisTarget {
    /// Boxed: the clients are large, and the target is kept once.
    Server(Box<Client>),
    Cluster(Box<ClusterClient>),
    /// The sentinels' URLs and the service (master group) name.
    Sentinel(Box<(Vec<String>, String)>),
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may hold a password.
        f.write_str(match self {
            RedisTarget::Server(_) => "RedisTarget::Server",
            RedisTarget::Cluster(_) => "RedisTarget::Cluster",
            RedisTarget::Sentinel(_) => "RedisTarget::Sentinel",
        })
    }
}

impl RedisTarget {
    /// Parses `url` with the Redis client's own parser; the error says why,
    /// without the URL.
    pub(crate) fn parse(url: &str, timeout: Duration) -> Result<Self, String> {
        let kind = |error: ::redis::RedisError| format!("{:?}", error.kind());
        for (cluster, server) in CLUSTER_SCHEMES {
            if let Some(rest) = url.strip_prefix(cluster) {
                let nodes = cluster_nodes(server, rest)?;
                // The client's own retries (after a failover: refresh the
                // slots, ask the new master) must fit in the crate's bound on
                // a call; its defaults wait 1.28 s before the first.
                let wait = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
                let client = ClusterClient::builder(nodes)
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    .retries(3)
                    .min_retry_wait((wait / 10).max(1))
                    .max_retry_wait((wait / 4).max(1))
                    .build()
                    .map_err(kind)?;
                return Ok(RedisTarget::Cluster(Box::new(client)));
            }
        }
        if let Some(rest) = url.strip_prefix(SENTINEL_SCHEME) {
            let (hosts, service) = rest
                .rsplit_once('/')
                .filter(|(_, service)| !service.is_empty())
                .ok_or("a sentinel URL ends with /service-name")?;
            let nodes = cluster_nodes("redis://", hosts)?;
            // Checked now, so that a bad URL is an error at build.
            SentinelClient::build(nodes.clone(), service, None, SentinelServerType::Master)
                .map_err(kind)?;
            return Ok(RedisTarget::Sentinel(Box::new((nodes, service.to_owned()))));
        }
        Client::open(url)
            .map(|client| RedisTarget::Server(Box::new(client)))
            .map_err(kind)
    }

    /// Whether a failed call should drop the connection, so that the next
    /// one finds the master again (after a Sentinel failover).
    pub(crate) fn reconnects_after_failure(&self) -> bool {
        matches!(self, RedisTarget::Sentinel(_))
    }

    /// Connects (bounded by `timeout` per attempt).
    pub(crate) async fn connect(&self, timeout: Duration) -> RedisResult<FleetConnection> {
        match self {
            RedisTarget::Server(client) => manage((**client).clone(), timeout).await,
            RedisTarget::Sentinel(sentinel) => {
                let (nodes, service) = &**sentinel;
                let mut sentinels = SentinelClient::build(
                    nodes.clone(),
                    service,
                    None,
                    SentinelServerType::Master,
                )?;
                let master = sentinels.async_get_client().await?;
                manage(master, timeout).await
            }
            RedisTarget::Cluster(client) => client
                .get_async_connection()
                .await
                .map(|connection| FleetConnection::Cluster(Box::new(connection))),
        }
    }
}

/// A connection manager for one server.
async fn manage(client: Client, timeout: Duration) -> RedisResult<FleetConnection> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1);
    ConnectionManager::new_with_config(client, config)
        .await
        .map(FleetConnection::Server)
}

/// `user:pass@h1:p1,h2:p2/` → one node URL per host, each with the
/// credentials.
fn cluster_nodes(scheme: &str, rest: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim_end_matches('/');
    let (credentials, hosts) = match rest.rsplit_once('@') {
        Some((credentials, hosts)) => (format!("{credentials}@"), hosts),
        None => (String::new(), rest),
    };
    let nodes: Vec<String> = hosts
        .split(',')
        .map(str::trim)
        .filter(|host| !host.is_empty())
        .map(|host| format!("{scheme}{credentials}{host}"))
        .collect();
    if nodes.is_empty() {
        return Err("a cluster URL lists no nodes".to_owned());
    }
    Ok(nodes)
}

/// A connection to the fleet's Redis, whichever kind.
#[derive(Clone)]
pub(crate) enum FleetConnection {
    Server(ConnectionManager),
    /// Boxed: the cluster connection is large.
    Cluster(Box<ClusterConnection>),
}

impl ConnectionLike for FleetConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            FleetConnection::Server(connection) => connection.req_packed_command(cmd),
            FleetConnection::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            FleetConnection::Server(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
            FleetConnection::Cluster(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            FleetConnection::Server(connection) => connection.get_db(),
            FleetConnection::Cluster(connection) => connection.get_db(),
        }
    }
}

/// The prefix of every key, as one hash tag: `{tracing-telegram}`.
pub(crate) fn hash_tagged(prefix: &str) -> String {
    format!("{{{prefix}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_name_every_node_with_its_credentials() {
        assert_eq!(
            cluster_nodes("redis://", ":pw@a:7000,b:7001/").unwrap(),
            ["redis://:pw@a:7000", "redis://:pw@b:7001"]
        );
        assert!(cluster_nodes("redis://", "/").is_err());
        let timeout = Duration::from_millis(500);
        assert!(matches!(
            RedisTarget::parse("redis+cluster://a:7000,b:7001", timeout),
            Ok(RedisTarget::Cluster(_))
        ));
        assert!(matches!(
            RedisTarget::parse("redis://a:6379/", timeout),
            Ok(RedisTarget::Server(_))
        ));
        assert!(matches!(
            RedisTarget::parse("redis+sentinel://a:26379,b:26380/orders", timeout),
            Ok(RedisTarget::Sentinel(_))
        ));
        assert!(RedisTarget::parse("redis+sentinel://a:26379", timeout).is_err());
        assert_eq!(hash_tagged("tt"), "{tt}");
    }
}
