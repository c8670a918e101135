//! The response reader against a real local TCP listener: Content-Length and chunked
//! bodies, responses split into pieces across the buffer's boundaries, several responses on
//! one keep-alive connection, and the ways a connection ends.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::*;
use crate::apptarget::http::scripted::{Step, serve};

const CHUNKED: &str = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
    4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: yes\r\n\r\n";

/// Connects to a server playing `script`; each `GET` sent then gets the next response.
async fn client(script: Vec<Step>) -> TcpStream {
    let server = serve(vec![script]).await;
    TcpStream::connect(server.addr).await.expect("connect")
}

async fn ask(s: &mut TcpStream, r: &mut ResponseReader) -> Result<(u16, String, bool), ReadError> {
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await?;
    let resp = r.read(s, false).await?;
    Ok((
        resp.status,
        String::from_utf8_lossy(resp.body).into_owned(),
        resp.keep_alive,
    ))
}

fn pieces(response: &str, piece: usize) -> [Step; 2] {
    [Step::Read, Step::Write(response.as_bytes().to_vec(), piece)]
}

#[tokio::test]
async fn content_length_bodies_follow_each_other_on_one_connection() {
    let mut script = Vec::new();
    script.extend(pieces(
        "HTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\nhello",
        usize::MAX,
    ));
    script.extend(pieces(
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        usize::MAX,
    ));
    script.extend(pieces(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 6\r\nContent-Length: 6\r\n\r\nbroken",
        usize::MAX,
    ));
    let mut s = client(script).await;
    let mut r = ResponseReader::default();
    assert_eq!(
        ask(&mut s, &mut r).await.unwrap(),
        (201, "hello".into(), true)
    );
    assert_eq!(ask(&mut s, &mut r).await.unwrap(), (200, "".into(), true));
    assert_eq!(
        ask(&mut s, &mut r).await.unwrap(),
        (500, "broken".into(), true)
    );
}

#[tokio::test]
async fn bodies_split_across_reads_and_small_buffers() {
    let body = "x".repeat(3000);
    let long = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Pad: {}\r\n\r\n{body}",
        body.len(),
        "p".repeat(100)
    );
    let mut script = Vec::new();
    // Byte by byte, then in pieces of 7 bytes: heads, chunk-size lines, chunk data and
    // CRLFs all end up cut, and a buffer of 16 bytes must compact and grow.
    script.extend(pieces(CHUNKED, 1));
    script.extend(pieces(&long, 7));
    script.extend(pieces(CHUNKED, 3));
    let mut s = client(script).await;
    let mut r = ResponseReader::with_capacity(16);
    let dechunked = "Wikipedia in\r\n\r\nchunks.".to_string();
    assert_eq!(
        ask(&mut s, &mut r).await.unwrap(),
        (200, dechunked.clone(), true)
    );
    assert_eq!(ask(&mut s, &mut r).await.unwrap(), (200, body, true));
    assert_eq!(ask(&mut s, &mut r).await.unwrap(), (200, dechunked, true));
}

#[tokio::test]
async fn connection_close_and_http_1_0_end_the_connection() {
    let mut s = client(
        pieces("HTTP/1.1 409 Conflict\r\nConnection: keep-alive, close\r\nContent-Length: 3\r\n\r\ndup", usize::MAX)
            .into(),
    )
    .await;
    let mut r = ResponseReader::default();
    assert_eq!(
        ask(&mut s, &mut r).await.unwrap(),
        (409, "dup".into(), false)
    );

    // HTTP/1.0 without a length: the body runs to the end of the connection.
    let mut s = client(pieces("HTTP/1.0 200 OK\r\n\r\nuntil the end", 4).into()).await;
    assert_eq!(
        ask(&mut s, &mut r).await.unwrap(),
        (200, "until the end".into(), false)
    );

    // HTTP/1.0 asking to keep the connection does keep it.
    let mut s = client(
        pieces(
            "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok",
            usize::MAX,
        )
        .into(),
    )
    .await;
    assert_eq!(ask(&mut s, &mut r).await.unwrap(), (200, "ok".into(), true));
}

#[tokio::test]
async fn interim_responses_and_bodiless_statuses() {
    let mut script = Vec::new();
    script.extend(pieces(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nid",
        5,
    ));
    // 204 and 304 have no body whatever they say.
    script.extend(pieces("HTTP/1.1 204 No Content\r\n\r\n", usize::MAX));
    script.extend(pieces(
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
        usize::MAX,
    ));
    script.extend(pieces(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        usize::MAX,
    ));
    let mut s = client(script).await;
    let mut r = ResponseReader::default();
    assert_eq!(ask(&mut s, &mut r).await.unwrap(), (201, "id".into(), true));
    assert_eq!(ask(&mut s, &mut r).await.unwrap(), (204, "".into(), true));
    assert_eq!(ask(&mut s, &mut r).await.unwrap(), (304, "".into(), true));
    assert_eq!(ask(&mut s, &mut r).await.unwrap(), (200, "ok".into(), true));
}

#[tokio::test]
async fn a_head_response_has_no_body() {
    let mut s = client(
        pieces(
            "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
            usize::MAX,
        )
        .into(),
    )
    .await;
    s.write_all(b"HEAD / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut r = ResponseReader::default();
    let resp = r.read(&mut s, true).await.unwrap();
    assert_eq!(
        (resp.status, resp.body, resp.keep_alive),
        (200, &b""[..], true)
    );
}

#[tokio::test]
async fn broken_responses_are_errors() {
    let mut r = ResponseReader::default();
    // Closed before the head, in the middle of the body, in the middle of the chunks.
    for cut in [
        "",
        "HTTP/1.1 200 OK\r\nContent-Le",
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWi",
    ] {
        let mut s = client(pieces(cut, usize::MAX).into()).await;
        let e = ask(&mut s, &mut r).await.unwrap_err();
        assert!(matches!(e, ReadError::Closed), "{cut:?}: {e}");
    }
    for bad in [
        "SSH-2.0-OpenSSH\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n",
    ] {
        let mut s = client(pieces(bad, usize::MAX).into()).await;
        let e = ask(&mut s, &mut r).await.unwrap_err();
        assert!(matches!(e, ReadError::Invalid(_)), "{bad:?}: {e}");
    }
}

#[tokio::test]
async fn bytes_nobody_asked_for_end_the_connection() {
    let mut s = client(
        pieces(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n",
            usize::MAX,
        )
        .into(),
    )
    .await;
    let mut r = ResponseReader::default();
    assert_eq!(
        ask(&mut s, &mut r).await.unwrap(),
        (200, "ok".into(), false)
    );
}
