//! What the database's answers cost beyond the network, as the proxy reads
//! them off the MySQL protocol: a client's command told apart (a `COMMIT`,
//! a locking read, work; [`classify`]), and the time an answer is held back
//! for its stretched server time ([`answered`]). Apart from the proxy (the
//! parent), which moves the bytes and keeps the delays: this reads the
//! bytes, and knows nothing of sockets or threads.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

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

/// One connection's last request, as both directions see it: when it
/// reached the server, and whether its answer's time is work to stretch.
#[derive(Default)]
pub(super) struct Exchange {
    /// Nanoseconds since [`epoch`] the request was written to the server;
    /// 0 once its answer has come.
    pub(super) sent: AtomicU64,
    pub(super) stretch: AtomicBool,
    /// The request was the prepare of a locking read: its answer names the
    /// statement id to remember.
    pub(super) preparing_lock: AtomicBool,
    /// Prepared statements that are locking reads.
    pub(super) locking: Mutex<HashSet<u32>>,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

pub(super) fn nanos_since_epoch(at: Instant) -> u64 {
    u64::try_from(at.duration_since(epoch()).as_nanos())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// What a client's command is, for what its answer costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Request {
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

/// What the client's `chunk` asks (a command packet has sequence id 0).
pub(super) fn classify(chunk: &[u8], exchange: &Exchange) -> Request {
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
pub(super) fn answered(chunk: &[u8], now: Instant, stretch: f64, exchange: &Exchange) -> Duration {
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
pub(super) fn is_commit(chunk: &[u8]) -> bool {
    // 3 bytes of length, 1 of sequence, then COM_QUERY (0x03) and the text.
    chunk.len() >= 11
        && chunk[4] == 0x03
        && chunk[5..11].eq_ignore_ascii_case(b"COMMIT")
        && chunk[11..]
            .iter()
            .all(|b| b.is_ascii_whitespace() || *b == b';')
}
