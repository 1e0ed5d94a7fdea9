//! A network between the pools and the database, on loopback: a TCP proxy
//! that delays every byte by a fixed one-way time in each direction, so a
//! round trip costs what it would across a real network (and a transaction
//! holds its row locks that much longer). Bandwidth is not limited and order
//! is kept; it models latency only.
//!
//! The delays are kept by operating-system threads (two per direction of a
//! connection), not by tokio's timer, whose millisecond ticks would turn a
//! 0.25 ms one-way delay into up to a whole millisecond. The proxy also
//! counts the connections it carries, and those the server refused for a
//! connection limit (MySQL errors 1040, 1203 and 1226, read from the
//! server's first packets). A commit may cost more than a round trip
//! (`commit_extra`: a Multi-AZ instance writes it to its standby in the
//! other zone before it answers): the proxy holds a client's `COMMIT`
//! that much longer.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What the proxy has carried.
#[derive(Debug, Default)]
pub struct Connections {
    /// Connections made to the server.
    pub opened: AtomicU64,
    /// Connections open now.
    pub open: AtomicU64,
    /// Most connections open at once.
    pub peak: AtomicU64,
    /// Connections the server refused for a connection limit.
    pub refused: AtomicU64,
}

/// A running proxy; dropping it stops accepting (open connections end with
/// their peers).
pub struct LatencyProxy {
    pub addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Listens on a free loopback port and forwards each connection to
/// `upstream`, each direction delayed by `one_way` (a `COMMIT` by
/// `commit_extra` more), counting into `connections` (which several
/// proxies may share).
pub async fn start(
    upstream: SocketAddr,
    one_way: Duration,
    commit_extra: Duration,
    connections: Arc<Connections>,
) -> std::io::Result<LatencyProxy> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let counted = connections.clone();
    let accept = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let counted = counted.clone();
            let relayed = client.into_std().and_then(|client| {
                client.set_nonblocking(false)?;
                let server = TcpStream::connect(upstream)?;
                relay(client, server, (one_way, commit_extra), counted)
            });
            if let Err(e) = relayed {
                tracing::warn!(error = %e, %upstream, "proxy: could not relay a connection");
            }
        }
    });
    Ok(LatencyProxy { addr, accept })
}

/// A proxy in front of the MySQL server `options` name, adding `rtt` to
/// each round trip; answers it, and `options` pointed through it.
pub async fn in_front_of(
    options: &sqlx::mysql::MySqlConnectOptions,
    rtt: Duration,
) -> anyhow::Result<(LatencyProxy, sqlx::mysql::MySqlConnectOptions)> {
    in_front_of_counting(options, rtt, Duration::ZERO, Arc::default()).await
}

/// [`in_front_of`], a commit costing `commit_extra` more, counting into
/// `connections`.
pub async fn in_front_of_counting(
    options: &sqlx::mysql::MySqlConnectOptions,
    rtt: Duration,
    commit_extra: Duration,
    connections: Arc<Connections>,
) -> anyhow::Result<(LatencyProxy, sqlx::mysql::MySqlConnectOptions)> {
    use anyhow::Context as _;
    let upstream = tokio::net::lookup_host((options.get_host(), options.get_port()))
        .await?
        .next()
        .context("the database host has no address")?;
    let proxy = start(upstream, rtt / 2, commit_extra, connections).await?;
    let through = options.clone().host("127.0.0.1").port(proxy.addr.port());
    Ok((proxy, through))
}

/// Starts both directions of one connection, each on its own threads, and
/// returns; they end when either side closes.
fn relay(
    client: TcpStream,
    server: TcpStream,
    (one_way, commit_extra): (Duration, Duration),
    connections: Arc<Connections>,
) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    connections.opened.fetch_add(1, Ordering::Relaxed);
    let open = connections.open.fetch_add(1, Ordering::Relaxed) + 1;
    connections.peak.fetch_max(open, Ordering::Relaxed);
    let up = (client.try_clone()?, server.try_clone()?);
    spawn_delayed(up.0, up.1, (one_way, commit_extra), None)?;
    let closed = Closed(connections.clone());
    spawn_delayed(
        server,
        client,
        (one_way, Duration::ZERO),
        Some((connections, closed)),
    )
}

/// Decrements the open count when the server's side of a connection ends.
struct Closed(Arc<Connections>);

impl Drop for Closed {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Copies `from` to `to`, each chunk written `delay` after it was read (a
/// chunk that is a `COMMIT` `commit_extra` later still): reading goes on
/// meanwhile, so the delay adds latency, not a bandwidth cap; order is
/// kept. `server`: this is the server's direction, whose first packets
/// tell whether it refused the connection.
fn spawn_delayed(
    mut from: TcpStream,
    mut to: TcpStream,
    (delay, commit_extra): (Duration, Duration),
    server: Option<(Arc<Connections>, Closed)>,
) -> std::io::Result<()> {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let thread = || std::thread::Builder::new().stack_size(64 * 1024);
    thread().name("db-proxy-write".into()).spawn(move || {
        while let Ok((due, chunk)) = rx.recv() {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    })?;
    thread().name("db-proxy-read".into()).spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut packets_seen = 0;
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Some((connections, _)) = &server {
                        if packets_seen < 4 && refuses_for_a_limit(&buf[..n]) {
                            connections.refused.fetch_add(1, Ordering::Relaxed);
                        }
                        packets_seen += 1;
                    }
                    let due = match commit_extra.is_zero() || !is_commit(&buf[..n]) {
                        true => Instant::now() + delay,
                        false => Instant::now() + delay + commit_extra,
                    };
                    if tx.send((due, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
        drop(server);
    })?;
    Ok(())
}

/// Whether `chunk` is a client's `COMMIT` (a text-protocol query, as sqlx
/// commits a transaction).
fn is_commit(chunk: &[u8]) -> bool {
    // 3 bytes of length, 1 of sequence, then COM_QUERY (0x03) and the text.
    chunk.len() >= 11
        && chunk[4] == 0x03
        && chunk[5..11].eq_ignore_ascii_case(b"COMMIT")
        && chunk[11..]
            .iter()
            .all(|b| b.is_ascii_whitespace() || *b == b';')
}

/// Whether `chunk` starts with a MySQL ERR packet for a connection limit:
/// too many connections (1040), or a user's `MAX_USER_CONNECTIONS` (1203,
/// 1226).
fn refuses_for_a_limit(chunk: &[u8]) -> bool {
    // 3 bytes of length, 1 of sequence, then 0xFF and the code, little-endian.
    chunk.len() >= 7
        && chunk[4] == 0xFF
        && matches!(u16::from_le_bytes([chunk[5], chunk[6]]), 1040 | 1203 | 1226)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// An echo server on loopback.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_round_trip_through_the_proxy_carries_the_bytes_and_the_delay_both_ways() {
        let proxy = start(
            echo().await,
            Duration::from_millis(20),
            Duration::ZERO,
            Arc::default(),
        )
        .await
        .unwrap();
        let mut conn = TcpStream::connect(proxy.addr).await.unwrap();
        for message in [&b"ping"[..], &b"a second message"[..]] {
            let sent = Instant::now();
            conn.write_all(message).await.unwrap();
            let mut back = vec![0u8; message.len()];
            conn.read_exact(&mut back).await.unwrap();
            assert_eq!(back, message);
            // A lower bound only: 20 ms out and 20 ms back.
            assert!(
                sent.elapsed() >= Duration::from_millis(40),
                "{:?}",
                sent.elapsed()
            );
        }
    }

    /// A MySQL text-protocol packet of `query`.
    fn com_query(query: &str) -> Vec<u8> {
        let len = (query.len() + 1) as u32;
        let mut packet = len.to_le_bytes()[..3].to_vec();
        packet.push(0);
        packet.push(0x03);
        packet.extend_from_slice(query.as_bytes());
        packet
    }

    #[test]
    fn a_commit_is_told_from_other_queries() {
        assert!(is_commit(&com_query("COMMIT")));
        assert!(is_commit(&com_query("commit ;")));
        for other in ["COMMITTED", "SELECT 1", "ROLLBACK", "BEGIN"] {
            assert!(!is_commit(&com_query(other)), "{other}");
        }
        assert!(!is_commit(b"COMMIT"), "not a packet");
    }

    #[tokio::test]
    async fn a_commit_takes_the_extra_time_on_top_of_the_round_trip() {
        let proxy = start(
            echo().await,
            Duration::from_millis(5),
            Duration::from_millis(100),
            Arc::default(),
        )
        .await
        .unwrap();
        let mut conn = TcpStream::connect(proxy.addr).await.unwrap();
        let commit = com_query("COMMIT");
        let sent = Instant::now();
        conn.write_all(&commit).await.unwrap();
        let mut back = vec![0u8; commit.len()];
        conn.read_exact(&mut back).await.unwrap();
        assert_eq!(back, commit);
        assert!(
            sent.elapsed() >= Duration::from_millis(110),
            "{:?}",
            sent.elapsed()
        );
    }
}
