//! A TCP stream that remembers when the kernel received what it last read.
//!
//! A client's read time includes its own wake-up: on a machine whose two cores the load
//! generator shares with the server, a receiving client often waits for a core after its
//! frame has arrived, and that wait is the generator's, not the server's. With
//! `SO_TIMESTAMPNS` the kernel stamps each incoming packet; on loopback the stamp is taken
//! in the sending server's own `send`, so "send until the frame reached the receiver's socket"
//! is the server's part of a fan-out alone. `recvmsg` reports the stamp of the last packet
//! it read; a read that takes several frames gives them all the latest stamp, which can only
//! make a frame look later than it was.

use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags};
use nix::sys::time::TimeSpec;
use std::io::{self, IoSliceMut};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

pub struct StampedTcp {
    inner: TcpStream,
    /// Room for the control message a read brings its stamp in.
    control: Vec<u8>,
    /// The kernel's receive time (wall clock) of the last packet read; `None` before the first.
    last_arrival: Option<SystemTime>,
}

impl StampedTcp {
    /// Asks the kernel to stamp the socket's incoming packets.
    pub fn new(inner: TcpStream) -> io::Result<StampedTcp> {
        setsockopt(&inner, sockopt::ReceiveTimestampns, &true)?;
        Ok(StampedTcp {
            inner,
            control: nix::cmsg_space!(TimeSpec),
            last_arrival: None,
        })
    }

    pub fn last_arrival(&self) -> Option<SystemTime> {
        self.last_arrival
    }
}

/// One `recvmsg` into `buf`: the bytes read and the stamp of the last packet among them.
fn recv_stamped(
    fd: i32,
    buf: &mut [u8],
    control: &mut [u8],
) -> io::Result<(usize, Option<SystemTime>)> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(fd, &mut iov, Some(control), MsgFlags::empty())?;
    let mut arrival = None;
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmTimestampns(ts) = cmsg {
            arrival = Some(
                SystemTime::UNIX_EPOCH + Duration::new(ts.tv_sec() as u64, ts.tv_nsec() as u32),
            );
        }
    }
    Ok((msg.bytes, arrival))
}

impl AsyncRead for StampedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            ready!(this.inner.poll_read_ready(cx))?;
            let fd = this.inner.as_raw_fd();
            let unfilled = buf.initialize_unfilled();
            let len = unfilled.len();
            let control = &mut this.control;
            let mut read = None;
            let result = this.inner.try_io(Interest::READABLE, || {
                let (n, arrival) = recv_stamped(fd, unfilled, control)?;
                read = Some((n, arrival));
                // A read shorter than the buffer emptied the socket. Saying WouldBlock makes
                // `try_io` clear the readiness, so the next read waits for epoll instead of
                // making a `recvmsg` that can only fail (one per delivered frame: half the
                // generator's `recvmsg` calls); tokio's own `TcpStream` does the same.
                if 0 < n && n < len {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok(())
            });
            match (read, result) {
                (Some((n, arrival)), _) => {
                    if arrival.is_some() {
                        this.last_arrival = arrival;
                    }
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                (None, Err(e)) if e.kind() == io::ErrorKind::WouldBlock => continue,
                (None, Err(e)) => return Poll::Ready(Err(e)),
                (None, Ok(())) => unreachable!("a read that succeeded records what it read"),
            }
        }
    }
}

impl AsyncWrite for StampedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
