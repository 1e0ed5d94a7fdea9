//! A network between the pools and the database, on loopback: a TCP proxy
//! that delays every byte by a fixed one-way time in each direction, so a
//! round trip costs what it would across a real network (and a transaction
//! holds its row locks that much longer). Bandwidth is not limited and order
//! is kept; it models latency only.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

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
/// `upstream`, each direction delayed by `one_way`.
pub async fn start(upstream: SocketAddr, one_way: Duration) -> std::io::Result<LatencyProxy> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let accept = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                match TcpStream::connect(upstream).await {
                    Ok(server) => relay(client, server, one_way).await,
                    Err(e) => tracing::warn!(error = %e, %upstream, "proxy: upstream refused"),
                }
            });
        }
    });
    Ok(LatencyProxy { addr, accept })
}

/// Both directions of one connection, until either side closes.
async fn relay(client: TcpStream, server: TcpStream, one_way: Duration) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::select! {
        _ = delayed(client_read, server_write, one_way) => {}
        _ = delayed(server_read, client_write, one_way) => {}
    }
}

/// Copies `from` to `to`, each chunk written `delay` after it was read:
/// reading goes on meanwhile, so the delay adds latency, not a bandwidth cap.
async fn delayed(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin + Send + 'static,
    delay: Duration,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let proxy = start(echo().await, Duration::from_millis(20))
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
}
