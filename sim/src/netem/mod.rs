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
//! that much longer. And a statement may take the database longer than it
//! takes this machine's server (`statement_stretch`): the proxy measures
//! each answer's server time and holds the answer back by the difference,
//! except a locking read's (`... FOR UPDATE`), whose time is mostly the wait
//! for another transaction's lock, not work. A failover ([`Connections::cut`])
//! drops every open connection and refuses new ones until it ends.
//!
//! Here the proxy: its connections, its threads and their delays; what the
//! server's answers cost beyond the network, read off the protocol, in
//! [`costs`].

mod costs;
#[cfg(test)]
mod tests;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use costs::ServerCosts;
use costs::{answered, classify, nanos_since_epoch, Exchange, Request};

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
    /// Connections refused or dropped because the database was failing over.
    pub cut: AtomicU64,
    /// While true, the database is unreachable ([`Connections::cut`]).
    down: AtomicBool,
    /// The server side of every open connection, to drop them at a failover.
    live: Mutex<Vec<(u64, TcpStream)>>,
}

impl Connections {
    /// A failover begins: every open connection is dropped, and new ones are
    /// refused until [`Connections::restore`] (the deployed shape's
    /// failover).
    #[cfg(feature = "aws")]
    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        let live = std::mem::take(&mut *self.live_lock());
        for (_, server) in live {
            let _ = server.shutdown(Shutdown::Both);
            self.cut.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The failover is over: connections are accepted again.
    #[cfg(feature = "aws")]
    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    fn live_lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, TcpStream)>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
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
/// `upstream`, each direction delayed by `one_way` (and the server's
/// answers by what `costs` adds), counting into `connections` (which
/// several proxies may share).
pub async fn start(
    upstream: SocketAddr,
    one_way: Duration,
    costs: ServerCosts,
    connections: Arc<Connections>,
) -> std::io::Result<LatencyProxy> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let counted = connections.clone();
    let accept = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            if counted.is_down() {
                // Failing over: the connection is refused at once.
                counted.cut.fetch_add(1, Ordering::Relaxed);
                drop(client);
                continue;
            }
            let counted = counted.clone();
            let relayed = client.into_std().and_then(|client| {
                client.set_nonblocking(false)?;
                let server = TcpStream::connect(upstream)?;
                relay(client, server, (one_way, costs), counted)
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
    in_front_of_counting(options, rtt, ServerCosts::default(), Arc::default()).await
}

/// [`in_front_of`], the server's answers costing what `costs` adds,
/// counting into `connections`.
pub async fn in_front_of_counting(
    options: &sqlx::mysql::MySqlConnectOptions,
    rtt: Duration,
    costs: ServerCosts,
    connections: Arc<Connections>,
) -> anyhow::Result<(LatencyProxy, sqlx::mysql::MySqlConnectOptions)> {
    use anyhow::Context as _;
    let upstream = tokio::net::lookup_host((options.get_host(), options.get_port()))
        .await?
        .next()
        .context("the database host has no address")?;
    let proxy = start(upstream, rtt / 2, costs, connections).await?;
    let through = options.clone().host("127.0.0.1").port(proxy.addr.port());
    Ok((proxy, through))
}

/// Starts both directions of one connection, each on its own threads, and
/// returns; they end when either side closes.
fn relay(
    client: TcpStream,
    server: TcpStream,
    (one_way, costs): (Duration, ServerCosts),
    connections: Arc<Connections>,
) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let id = connections.opened.fetch_add(1, Ordering::Relaxed) + 1;
    let open = connections.open.fetch_add(1, Ordering::Relaxed) + 1;
    connections.peak.fetch_max(open, Ordering::Relaxed);
    connections.live_lock().push((id, server.try_clone()?));
    let exchange = Arc::new(Exchange::default());
    let up = (client.try_clone()?, server.try_clone()?);
    spawn_delayed(
        up.0,
        up.1,
        Direction::Up { one_way, costs },
        exchange.clone(),
    )?;
    let closed = Closed(connections.clone(), id);
    spawn_delayed(
        server,
        client,
        Direction::Down {
            one_way,
            costs,
            server: (connections, closed),
        },
        exchange,
    )
}

/// Decrements the open count when the server's side of a connection ends.
struct Closed(Arc<Connections>, u64);

impl Drop for Closed {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
        self.0.live_lock().retain(|(id, _)| *id != self.1);
    }
}

enum Direction {
    /// Client to server.
    Up {
        one_way: Duration,
        costs: ServerCosts,
    },
    /// Server to client: its first packets tell whether it refused the
    /// connection.
    Down {
        one_way: Duration,
        costs: ServerCosts,
        server: (Arc<Connections>, Closed),
    },
}

/// Copies `from` to `to`, each chunk written a delay after it was read:
/// `one_way`, a `COMMIT` the commit's extra more, a server's answer its
/// stretched server time more. Reading goes on meanwhile, so the delay adds
/// latency, not a bandwidth cap; order is kept.
fn spawn_delayed(
    mut from: TcpStream,
    mut to: TcpStream,
    direction: Direction,
    exchange: Arc<Exchange>,
) -> std::io::Result<()> {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>, Request)>();
    let thread = || std::thread::Builder::new().stack_size(64 * 1024);
    let up = matches!(direction, Direction::Up { .. });
    let written = exchange.clone();
    thread().name("db-proxy-write".into()).spawn(move || {
        while let Ok((due, chunk, request)) = rx.recv() {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            // Noted before the write: the server cannot answer before it.
            if up && request != Request::Other {
                written
                    .stretch
                    .store(request == Request::Work, Ordering::SeqCst);
                written
                    .preparing_lock
                    .store(request == Request::PrepareLocking, Ordering::SeqCst);
                written
                    .sent
                    .store(nanos_since_epoch(Instant::now()), Ordering::SeqCst);
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
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            let now = Instant::now();
            let (due, request) = match &direction {
                Direction::Up { one_way, costs } => {
                    let request = classify(chunk, &exchange);
                    let extra = match request {
                        Request::Commit => costs.commit_extra,
                        _ => Duration::ZERO,
                    };
                    (now + *one_way + extra, request)
                }
                Direction::Down {
                    one_way,
                    costs,
                    server: (connections, _),
                } => {
                    if packets_seen < 4 && refuses_for_a_limit(chunk) {
                        connections.refused.fetch_add(1, Ordering::Relaxed);
                    }
                    packets_seen += 1;
                    let extra = answered(chunk, now, costs.statement_stretch, &exchange);
                    (now + *one_way + extra, Request::Other)
                }
            };
            if tx.send((due, chunk.to_vec(), request)).is_err() {
                break;
            }
        }
        drop(direction);
    })?;
    Ok(())
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
