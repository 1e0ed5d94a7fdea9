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

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
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

/// What the database costs beyond the network: each commit's extra time,
/// and how much longer a statement's own server time is than this
/// machine's (1: as here).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerCosts {
    pub commit_extra: Duration,
    pub statement_stretch: f64,
}

impl Default for ServerCosts {
    fn default() -> Self {
        ServerCosts {
            commit_extra: Duration::ZERO,
            statement_stretch: 1.0,
        }
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

/// One connection's last request, as both directions see it: when it
/// reached the server, and whether its answer's time is work to stretch.
#[derive(Default)]
struct Exchange {
    /// Nanoseconds since [`epoch`] the request was written to the server;
    /// 0 once its answer has come.
    sent: AtomicU64,
    stretch: AtomicBool,
    /// The request was the prepare of a locking read: its answer names the
    /// statement id to remember.
    preparing_lock: AtomicBool,
    /// Prepared statements that are locking reads.
    locking: Mutex<HashSet<u32>>,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn nanos_since_epoch(at: Instant) -> u64 {
    u64::try_from(at.duration_since(epoch()).as_nanos())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// What a client's command is, for what its answer costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    /// Not a command (the handshake's packets), or one without an answer.
    Other,
    Commit,
    /// A locking read (text or prepared), whose time is mostly a lock wait.
    Locking,
    /// The prepare of a locking read.
    PrepareLocking,
    /// Any other command: its answer's server time is work.
    Work,
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

/// What the client's `chunk` asks (a command packet has sequence id 0).
fn classify(chunk: &[u8], exchange: &Exchange) -> Request {
    if chunk.len() < 5 || chunk[3] != 0 {
        return Request::Other;
    }
    let text = |chunk: &[u8]| {
        String::from_utf8_lossy(&chunk[5..chunk.len().min(4096)]).to_ascii_uppercase()
    };
    match chunk[4] {
        // COM_QUERY
        0x03 if is_commit(chunk) => Request::Commit,
        0x03 if text(chunk).contains("FOR UPDATE") => Request::Locking,
        // COM_STMT_PREPARE
        0x16 if text(chunk).contains("FOR UPDATE") => Request::PrepareLocking,
        // COM_STMT_EXECUTE, with the statement's id
        0x17 if chunk.len() >= 9 => {
            let id = u32::from_le_bytes([chunk[5], chunk[6], chunk[7], chunk[8]]);
            let locking = exchange
                .locking
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&id);
            match locking {
                true => Request::Locking,
                false => Request::Work,
            }
        }
        // COM_STMT_CLOSE and COM_QUIT have no answer.
        0x19 | 0x01 => Request::Other,
        _ => Request::Work,
    }
}

/// The time to add to the server's answer `chunk`, read at `now`: its
/// server time stretched by `stretch`, if it answers work; and a prepared
/// locking read's id remembered.
fn answered(chunk: &[u8], now: Instant, stretch: f64, exchange: &Exchange) -> Duration {
    let sent = exchange.sent.swap(0, Ordering::SeqCst);
    if sent == 0 {
        return Duration::ZERO;
    }
    // COM_STMT_PREPARE_OK: 0x00, then the statement id.
    if exchange.preparing_lock.swap(false, Ordering::SeqCst) && chunk.len() >= 9 && chunk[4] == 0 {
        let id = u32::from_le_bytes([chunk[5], chunk[6], chunk[7], chunk[8]]);
        exchange
            .locking
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id);
    }
    if !exchange.stretch.load(Ordering::SeqCst) || stretch <= 1.0 {
        return Duration::ZERO;
    }
    let server_time = Duration::from_nanos(nanos_since_epoch(now).saturating_sub(sent));
    server_time.mul_f64(stretch - 1.0)
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
            ServerCosts::default(),
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
            ServerCosts {
                commit_extra: Duration::from_millis(100),
                statement_stretch: 1.0,
            },
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

    /// A MySQL packet with `command` and `payload`.
    fn packet(command: u8, payload: &[u8]) -> Vec<u8> {
        let len = (payload.len() + 1) as u32;
        let mut p = len.to_le_bytes()[..3].to_vec();
        p.push(0);
        p.push(command);
        p.extend_from_slice(payload);
        p
    }

    /// Which answers are stretched: a statement's work is, a locking
    /// read's (mostly a wait for another transaction's lock) is not, text
    /// or prepared; a commit has its own term.
    #[test]
    fn a_locking_read_is_told_from_work_text_or_prepared() {
        let x = Exchange::default();
        assert_eq!(classify(&com_query("COMMIT"), &x), Request::Commit);
        let lock = com_query("SELECT quantity FROM inventory WHERE product_id = ? for update");
        assert_eq!(classify(&lock, &x), Request::Locking);
        assert_eq!(
            classify(&com_query("INSERT INTO orders VALUES (1)"), &x),
            Request::Work
        );
        let prepare = packet(0x16, b"SELECT 1 FROM inventory FOR UPDATE");
        assert_eq!(classify(&prepare, &x), Request::PrepareLocking);
        // The server's PREPARE_OK names statement 7: its executes are locking.
        x.preparing_lock.store(true, Ordering::SeqCst);
        x.sent
            .store(nanos_since_epoch(Instant::now()), Ordering::SeqCst);
        let ok = packet(0x00, &[7, 0, 0, 0, 1, 0, 0, 0, 0]);
        answered(&ok, Instant::now(), 2.0, &x);
        let execute = |id: u8| packet(0x17, &[id, 0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(classify(&execute(7), &x), Request::Locking);
        assert_eq!(classify(&execute(8), &x), Request::Work);
        // Not a command (a handshake packet, sequence 1), and a close that
        // has no answer.
        let mut handshake = com_query("SELECT 1");
        handshake[3] = 1;
        assert_eq!(classify(&handshake, &x), Request::Other);
        assert_eq!(classify(&packet(0x19, &[7, 0, 0, 0]), &x), Request::Other);
    }

    /// An answer to work is held back by its server time times the stretch
    /// less one; a locking read's, or any at a stretch of 1, is not.
    #[test]
    fn an_answer_is_held_back_by_its_stretched_server_time() {
        let x = Exchange::default();
        let asked = Instant::now();
        x.sent.store(nanos_since_epoch(asked), Ordering::SeqCst);
        x.stretch.store(true, Ordering::SeqCst);
        let extra = answered(b"answer", asked + Duration::from_millis(10), 1.5, &x);
        assert!(
            (extra.as_secs_f64() - 0.005).abs() < 1e-4,
            "half of 10 ms: {extra:?}"
        );
        // Its answer has come: a second chunk of it adds nothing.
        assert_eq!(
            answered(b"more", asked + Duration::from_millis(20), 1.5, &x),
            Duration::ZERO
        );
        x.sent.store(nanos_since_epoch(asked), Ordering::SeqCst);
        x.stretch.store(false, Ordering::SeqCst);
        assert_eq!(
            answered(b"locked", asked + Duration::from_millis(50), 1.5, &x),
            Duration::ZERO
        );
    }
}
