//! The transport under HTTP: the listening socket and each connection, before actix's HTTP/1
//! dispatcher reads it.
//!
//! actix bounds how long a connection's **first** request's headers may take
//! (`server.client_request_timeout_ms`, its head timer) and how long a connection may idle between
//! requests (`server.keep_alive_ms`), but once a kept-alive connection's next request has sent a
//! byte, its keep-alive timer is cleared and no head timer is set again: a client that made one
//! quick request and then sent the next one's headers a byte every few hundred milliseconds held
//! its connection for as long as it went on (measured: tests/reliability/floods.rs). [`HeadWatch`]
//! puts every request's headers under the same deadline, counted from their first byte.

use actix_web::rt::time::{Sleep, sleep};
use anyhow::{Context as _, Result};
use std::io;
use std::net::TcpListener;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A listening socket on `address` with an accept queue of `backlog`. std's `TcpListener::bind`
/// listens with its own fixed backlog, and actix's `backlog` setting applies only to the sockets
/// actix binds itself, not to one handed over: so the socket is made here, as actix would
/// (`SO_REUSEADDR`, so a restart does not wait for the old connections' `TIME_WAIT`).
pub fn listen(address: &str, backlog: u32) -> Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    use std::net::ToSocketAddrs;
    let address = address
        .to_socket_addrs()?
        .next()
        .with_context(|| format!("{address} names no address"))?;
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// The answer sent, when the socket takes it at once, to a connection whose headers were too slow
/// (what actix's own head timer sends on a first request).
const TIMED_OUT: &[u8] = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// A connection on which every request's header section must be whole (`\r\n\r\n`) within
/// `timeout` of its first byte; later, the read fails (`TimedOut`) and actix drops the connection.
///
/// It reads the byte stream, not HTTP: a head starts with the first byte read after a response
/// began (or the connection opened) and ends at the first blank line. Bytes after that (a body,
/// a pipelined request) are not watched until the next response is written; the body has its own
/// deadline (`http.body_timeout_ms`). A `100 Continue` is a response too: a body that then takes
/// longer than `timeout` is cut by this deadline, earlier than by its own.
#[derive(Debug)]
pub struct HeadWatch {
    io: TcpStream,
    timeout: Duration,
    state: Head,
}

#[derive(Debug)]
enum Head {
    /// No byte of the next request yet.
    Awaiting,
    /// A head is arriving: the deadline, and how many bytes of `\r\n\r\n` the input ends with.
    Arriving { deadline: Pin<Box<Sleep>>, matched: usize },
    /// The head is in; watched again once a response is written.
    Read,
}

impl HeadWatch {
    pub fn new(io: TcpStream, timeout: Duration) -> Self {
        Self {
            io,
            timeout,
            state: Head::Awaiting,
        }
    }

    /// The state after `bytes` were read.
    fn saw(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if matches!(self.state, Head::Awaiting) {
            self.state = Head::Arriving {
                deadline: Box::pin(sleep(self.timeout)),
                matched: 0,
            };
        }
        if let Head::Arriving { matched, .. } = &mut self.state {
            for &b in bytes {
                *matched = match (*matched, b) {
                    (0 | 2, b'\r') => *matched + 1,
                    (1 | 3, b'\n') => *matched + 1,
                    (_, b'\r') => 1,
                    _ => 0,
                };
                if *matched == 4 {
                    self.state = Head::Read;
                    return;
                }
            }
        }
    }
}

impl AsyncRead for HeadWatch {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.saw(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                if let Head::Arriving { deadline, .. } = &mut this.state
                    && deadline.as_mut().poll(cx).is_ready()
                {
                    // Best effort: a socket that can't take it at once gets the close alone.
                    let _ = this.io.try_write(TIMED_OUT);
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the request's headers did not arrive in time",
                    )));
                }
                Poll::Pending
            }
            failed => failed,
        }
    }
}

impl AsyncWrite for HeadWatch {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if matches!(self.state, Head::Read) {
            self.state = Head::Awaiting;
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if matches!(self.state, Head::Read) {
            self.state = Head::Awaiting;
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A connected pair: the client's end and the server's, watched.
    async fn pair(timeout: Duration) -> (TcpStream, HeadWatch) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (client, HeadWatch::new(server, timeout))
    }

    #[test]
    fn a_head_ends_at_the_first_blank_line_across_reads() {
        let rt = actix_web::rt::Runtime::new().unwrap();
        rt.block_on(async {
            let (_client, mut watch) = pair(Duration::from_secs(60)).await;
            watch.saw(b"GET / HTTP/1.1\r\nHost: a\r");
            assert!(matches!(watch.state, Head::Arriving { matched: 1, .. }));
            watch.saw(b"\n\r");
            assert!(matches!(watch.state, Head::Arriving { matched: 3, .. }));
            watch.saw(b"\nbody\r\n\r\n");
            assert!(matches!(watch.state, Head::Read), "{:?}", watch.state);
            watch.saw(b"more");
            assert!(matches!(watch.state, Head::Read), "a body is not a head");
        });
    }

    #[test]
    fn a_second_head_too_slow_fails_the_read_with_a_408() {
        let rt = actix_web::rt::Runtime::new().unwrap();
        rt.block_on(async {
            let (mut client, mut watch) = pair(Duration::from_millis(200)).await;
            let mut buf = [0u8; 256];
            client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
            let n = watch.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"GET / HTTP/1.1\r\n\r\n");
            assert!(matches!(watch.state, Head::Read));
            watch
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            assert!(matches!(watch.state, Head::Awaiting), "watched again after the answer");
            // The next request's head never ends.
            client.write_all(b"GET / HTTP/1.1\r\nX-Slow: a").await.unwrap();
            let n = watch.read(&mut buf).await.unwrap();
            assert!(n > 0);
            let err = watch.read(&mut buf).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
            let mut answers = Vec::new();
            drop(watch);
            client.read_to_end(&mut answers).await.unwrap();
            let text = String::from_utf8_lossy(&answers);
            assert!(
                text.ends_with("HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"),
                "{text}"
            );
        });
    }

    #[test]
    fn an_idle_connection_is_not_this_deadline() {
        let rt = actix_web::rt::Runtime::new().unwrap();
        rt.block_on(async {
            let (_client, mut watch) = pair(Duration::from_millis(50)).await;
            let mut buf = [0u8; 16];
            // Nothing sent: the read waits (actix's keep-alive and head timers govern idleness).
            let waited = tokio::time::timeout(Duration::from_millis(300), watch.read(&mut buf)).await;
            assert!(waited.is_err(), "still waiting");
        });
    }
}
