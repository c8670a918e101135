//! The connection against a real local TCP listener: keep-alive reuse, connections opened
//! again after the server closed them, after `Connection: close`, after a timeout and after
//! a cancelled call; refused connections and unmapped statuses classed.

use std::time::Duration;

use super::*;
use crate::apptarget::http::StatusMap;
use crate::apptarget::http::scripted::{Step, answer, serve};

const OK: &str = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nid";

fn endpoint(timeout_ms: u64) -> Arc<Endpoint> {
    let mut status = StatusMap::default();
    status.insert("201", Outcome::Inserted).unwrap();
    status.insert("200", Outcome::Existed).unwrap();
    Arc::new(Endpoint {
        method: "POST".into(),
        path: "/signup/{worker}".into(),
        body: Some(r#"{"email":"{key}"}"#.into()),
        headers: vec![("content-type".into(), "application/json".into())],
        timeout: Duration::from_millis(timeout_ms),
        status,
        json: None,
    })
}

fn op(seq: u64) -> Op {
    Op {
        key: format!("user{seq}@example.com"),
        key_number: seq,
        worker: 2,
        seq,
        payload: format!("w2-{seq}"),
        repetition: 0,
    }
}

fn conn(addr: std::net::SocketAddr, timeout_ms: u64) -> HttpConn {
    let base = Base::parse(&format!("http://{addr}")).unwrap();
    HttpConn::new(&base, endpoint(timeout_ms))
}

#[tokio::test]
async fn requests_share_one_keep_alive_connection() {
    let server = serve(vec![[answer(OK), answer(OK), answer(OK)].concat()]).await;
    let mut c = conn(server.addr, 1000);
    for seq in 0..3 {
        assert_eq!(c.call(&op(seq)).await, Ok(Outcome::Inserted));
    }
    assert_eq!(server.accepted(), 1);
    assert_eq!(
        server.requests()[1],
        format!(
            "POST /signup/2 HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
             content-length: 29\r\n\r\n{{\"email\":\"user1@example.com\"}}",
            server.addr
        )
    );
}

#[tokio::test]
async fn a_connection_the_server_closed_is_opened_again() {
    // The first connection answers once and is closed by the server while idle; the second
    // says `Connection: close` in its answer; the third stays.
    let close = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    let server = serve(vec![
        answer(OK).into(),
        answer(close).into(),
        [answer(OK), answer(OK)].concat(),
    ])
    .await;
    let mut c = conn(server.addr, 1000);
    assert_eq!(c.call(&op(0)).await, Ok(Outcome::Inserted));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(c.call(&op(1)).await, Ok(Outcome::Existed));
    assert_eq!(c.call(&op(2)).await, Ok(Outcome::Inserted));
    assert_eq!(c.call(&op(3)).await, Ok(Outcome::Inserted));
    assert_eq!(server.accepted(), 3);
}

#[tokio::test]
async fn a_timeout_is_its_own_class_and_the_next_call_reconnects() {
    let slow = vec![Step::Read, Step::Wait(Duration::from_millis(500))];
    let server = serve(vec![slow, answer(OK).into()]).await;
    let mut c = conn(server.addr, 100);
    let e = c.call(&op(0)).await.unwrap_err();
    assert_eq!((e.class, e.code.as_str()), (Outcome::Timeout, "timeout"));
    assert_eq!(e.message, "no response within 100 ms");
    assert_eq!(c.call(&op(1)).await, Ok(Outcome::Inserted));
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn a_call_dropped_half_way_does_not_leave_its_answer_to_the_next() {
    // The first answer comes late, after its call was dropped: the next call must not read it.
    let late = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let first = vec![
        Step::Read,
        Step::Wait(Duration::from_millis(100)),
        Step::Write(late.as_bytes().to_vec(), usize::MAX),
        Step::Read,
        Step::Write(late.as_bytes().to_vec(), usize::MAX),
    ];
    let server = serve(vec![first, answer(OK).into()]).await;
    let mut c = conn(server.addr, 1000);
    assert!(
        tokio::time::timeout(Duration::from_millis(20), c.call(&op(0)))
            .await
            .is_err()
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(c.call(&op(1)).await, Ok(Outcome::Inserted));
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn refused_connections_and_unmapped_statuses() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let e = conn(addr, 1000).call(&op(0)).await.unwrap_err();
    assert_eq!(
        (e.class, e.code.as_str()),
        (Outcome::ConnectionError, "refused")
    );
    assert!(
        e.message.starts_with(&format!("connecting to {addr}:")),
        "{}",
        e.message
    );

    let missing = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nno route!";
    let server = serve(vec![[answer(missing), answer(OK)].concat()]).await;
    let mut c = conn(server.addr, 1000);
    let e = c.call(&op(0)).await.unwrap_err();
    assert_eq!(
        (e.class, e.code.as_str(), e.message.as_str()),
        (Outcome::Other, "http 404", "no route!")
    );
    // An answered error status keeps the connection.
    assert_eq!(c.call(&op(1)).await, Ok(Outcome::Inserted));
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn a_broken_response_is_a_connection_error() {
    let server = serve(vec![
        answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab").into(),
    ])
    .await;
    let e = conn(server.addr, 1000).call(&op(0)).await.unwrap_err();
    assert_eq!(
        (e.class, e.code.as_str()),
        (Outcome::ConnectionError, "http")
    );
    assert_eq!(
        e.message,
        "connection closed before the response was complete"
    );
}
