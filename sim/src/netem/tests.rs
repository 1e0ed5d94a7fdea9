//! Tests of the proxy: the delays both ways, and what it reads off the
//! protocol (commits, locking reads, an answer's server time).

use super::costs::is_commit;
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
