//! Batched datagram I/O: `recvmmsg` and `sendmmsg` with packet-info control messages.
//!
//! Each received datagram carries the local address it was sent to (`IP_PKTINFO` /
//! `IPV6_PKTINFO`); each reply sets that address as its source, so a server bound to
//! `0.0.0.0` or `[::]` on a multi-homed host answers from the address the client
//! targeted (otherwise the client's NAT or firewall would drop the reply).
//!
//! All unsafe code of the UDP server lives here: the kernel structures point into
//! buffers this module owns and rebuilds before every call.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Room for one packet-info control message (in6_pktinfo is the larger: 20 bytes of
/// data, 40 with header and padding).
const CONTROL_LEN: usize = 64;

#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct Control([u8; CONTROL_LEN]);

/// One received datagram's metadata.
#[derive(Debug, Clone, Copy)]
pub struct RecvMeta {
    /// Bytes received.
    pub len: usize,
    /// The sender.
    pub src: SocketAddr,
    /// The local address the datagram was sent to, with the interface it arrived on.
    pub dst: Option<(IpAddr, u32)>,
    /// The datagram was longer than the buffer and was cut.
    pub truncated: bool,
}

/// Buffers for receiving up to `n` datagrams in one `recvmmsg` call.
pub struct RecvBatch {
    buf_len: usize,
    bufs: Vec<u8>,
    names: Vec<libc::sockaddr_storage>,
    controls: Vec<Control>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    metas: Vec<RecvMeta>,
}

// SAFETY: the raw pointers in iovs/hdrs only ever point into this struct's own buffers
// and are rebuilt before each use.
unsafe impl Send for RecvBatch {}

impl RecvBatch {
    /// Buffers for `n` datagrams of up to `buf_len` bytes each.
    pub fn new(n: usize, buf_len: usize) -> Self {
        let n = n.max(1);
        RecvBatch {
            buf_len,
            bufs: vec![0; n * buf_len],
            // SAFETY: all-zero is a valid sockaddr_storage / iovec / mmsghdr.
            names: vec![unsafe { zeroed() }; n],
            controls: vec![Control([0; CONTROL_LEN]); n],
            iovs: vec![unsafe { zeroed() }; n],
            hdrs: vec![unsafe { zeroed() }; n],
            metas: Vec::with_capacity(n),
        }
    }

    /// Receives up to a batch of datagrams without blocking. Returns how many the kernel
    /// handed over (0: none were waiting); [`RecvBatch::len`] of them are usable, the
    /// rest had an unusable sender address.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        let n = self.hdrs.len();
        // Raw pointers are taken once per buffer so no later borrow invalidates them.
        let bufs = self.bufs.as_mut_ptr();
        let names = self.names.as_mut_ptr();
        let controls = self.controls.as_mut_ptr();
        let iovs = self.iovs.as_mut_ptr();
        for i in 0..n {
            // SAFETY: i < n and every vector holds n elements (bufs n * buf_len bytes).
            unsafe {
                *iovs.add(i) = libc::iovec {
                    iov_base: bufs.add(i * self.buf_len).cast(),
                    iov_len: self.buf_len,
                };
                let hdr = &mut self.hdrs[i];
                hdr.msg_len = 0;
                hdr.msg_hdr.msg_name = names.add(i).cast();
                hdr.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                hdr.msg_hdr.msg_iov = iovs.add(i);
                hdr.msg_hdr.msg_iovlen = 1;
                hdr.msg_hdr.msg_control = controls.add(i).cast();
                hdr.msg_hdr.msg_controllen = CONTROL_LEN as _;
                hdr.msg_hdr.msg_flags = 0;
            }
        }
        // SAFETY: every header points at live buffers of the stated lengths.
        let got = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        self.metas.clear();
        if got < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::WouldBlock => Ok(0),
                _ => Err(err),
            };
        }
        for i in 0..got as usize {
            let hdr = &self.hdrs[i];
            // SAFETY: the kernel filled names[i] with msg_namelen bytes.
            let Some(src) = (unsafe { sockaddr_to_std(&self.names[i], hdr.msg_hdr.msg_namelen) })
            else {
                continue;
            };
            let dst = unsafe { read_pktinfo(&hdr.msg_hdr) };
            self.metas.push(RecvMeta {
                len: hdr.msg_len as usize,
                src,
                dst,
                truncated: hdr.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
            });
            // Keep metas aligned with buffers: a datagram with an unknown address family
            // is skipped above and its buffer slot simply not reported.
            if self.metas.len() - 1 != i {
                let m = self.metas.len() - 1;
                let (a, b) = (m * self.buf_len, i * self.buf_len);
                self.bufs.copy_within(b..b + self.buf_len, a);
            }
        }
        Ok(got as usize)
    }

    /// Usable datagrams from the last [`RecvBatch::recv`].
    pub fn len(&self) -> usize {
        self.metas.len()
    }

    /// Whether the last receive produced no usable datagram.
    pub fn is_empty(&self) -> bool {
        self.metas.is_empty()
    }

    /// The `i`th received datagram and its metadata.
    pub fn get(&self, i: usize) -> (&[u8], &RecvMeta) {
        let m = &self.metas[i];
        let start = i * self.buf_len;
        (&self.bufs[start..start + m.len.min(self.buf_len)], m)
    }
}

/// Replies queued for one `sendmmsg` call.
pub struct SendBatch {
    bufs: Vec<Vec<u8>>,
    dests: Vec<libc::sockaddr_storage>,
    dest_lens: Vec<libc::socklen_t>,
    controls: Vec<Control>,
    control_lens: Vec<usize>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    len: usize,
}

// SAFETY: as for RecvBatch.
unsafe impl Send for SendBatch {}

/// What a flush did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SendOutcome {
    /// Datagrams the kernel accepted.
    pub sent: usize,
    /// Datagrams dropped because the socket buffer was full.
    pub would_block: usize,
    /// Datagrams the kernel refused (unreachable destination and the like).
    pub failed: usize,
}

impl SendBatch {
    /// Room for `n` replies of up to `buf_len` bytes each.
    pub fn new(n: usize, buf_len: usize) -> Self {
        let n = n.max(1);
        SendBatch {
            bufs: (0..n).map(|_| Vec::with_capacity(buf_len)).collect(),
            // SAFETY: all-zero is valid for these C structs.
            dests: vec![unsafe { zeroed() }; n],
            dest_lens: vec![0; n],
            controls: vec![Control([0; CONTROL_LEN]); n],
            control_lens: vec![0; n],
            iovs: vec![unsafe { zeroed() }; n],
            hdrs: vec![unsafe { zeroed() }; n],
            len: 0,
        }
    }

    /// The buffer of the next reply, cleared; fill it, then call [`SendBatch::commit`].
    /// `None` when the batch is full.
    pub fn next_buf(&mut self) -> Option<&mut Vec<u8>> {
        let b = self.bufs.get_mut(self.len)?;
        b.clear();
        Some(b)
    }

    /// Queues the buffer last returned by [`SendBatch::next_buf`] for `dest`, sent from
    /// `src` (the address the request was sent to) when known.
    pub fn commit(&mut self, dest: SocketAddr, src: Option<(IpAddr, u32)>, v6_socket: bool) {
        let i = self.len;
        let (storage, len) = std_to_sockaddr(dest, v6_socket);
        self.dests[i] = storage;
        self.dest_lens[i] = len;
        self.control_lens[i] = match src {
            Some((ip, ifindex)) => write_pktinfo(&mut self.controls[i], ip, ifindex, v6_socket),
            None => 0,
        };
        self.len += 1;
    }

    /// Number of queued replies.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sends everything queued and empties the batch. Replies the kernel refuses are
    /// skipped one by one; when the socket buffer is full the rest are dropped (UDP
    /// replies are not worth blocking a worker for; clients retry).
    pub fn flush(&mut self, fd: RawFd) -> SendOutcome {
        let mut out = SendOutcome::default();
        let dests = self.dests.as_mut_ptr();
        let controls = self.controls.as_mut_ptr();
        let iovs = self.iovs.as_mut_ptr();
        for i in 0..self.len {
            // SAFETY: i < len <= every vector's length; pointers taken once above.
            unsafe {
                *iovs.add(i) = libc::iovec {
                    iov_base: self.bufs[i].as_mut_ptr().cast(),
                    iov_len: self.bufs[i].len(),
                };
                let hdr = &mut self.hdrs[i];
                hdr.msg_len = 0;
                hdr.msg_hdr.msg_name = dests.add(i).cast();
                hdr.msg_hdr.msg_namelen = self.dest_lens[i];
                hdr.msg_hdr.msg_iov = iovs.add(i);
                hdr.msg_hdr.msg_iovlen = 1;
                if self.control_lens[i] == 0 {
                    hdr.msg_hdr.msg_control = std::ptr::null_mut();
                    hdr.msg_hdr.msg_controllen = 0;
                } else {
                    hdr.msg_hdr.msg_control = controls.add(i).cast();
                    hdr.msg_hdr.msg_controllen = self.control_lens[i] as _;
                }
                hdr.msg_hdr.msg_flags = 0;
            }
        }
        let mut at = 0;
        while at < self.len {
            // SAFETY: headers at..len point at live buffers built above.
            let r = unsafe {
                libc::sendmmsg(
                    fd,
                    self.hdrs[at..].as_mut_ptr(),
                    (self.len - at) as libc::c_uint,
                    0,
                )
            };
            if r > 0 {
                out.sent += r as usize;
                at += r as usize;
                continue;
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    out.would_block += self.len - at;
                    break;
                }
                _ => {
                    // The first remaining reply failed: skip it and carry on.
                    tracing::trace!(error = %err, "udp send failed");
                    out.failed += 1;
                    at += 1;
                }
            }
        }
        self.len = 0;
        out
    }
}

/// Enables packet-info reception on a socket.
pub fn enable_pktinfo(fd: RawFd, v6: bool) -> io::Result<()> {
    let one: libc::c_int = 1;
    let (level, name) = if v6 {
        (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO)
    } else {
        (libc::IPPROTO_IP, libc::IP_PKTINFO)
    };
    // SAFETY: passing a c_int option value of the right size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&one as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Converts a kernel socket address to a standard one.
///
/// SAFETY: `storage` must hold an address written by the kernel.
unsafe fn sockaddr_to_std(
    storage: &libc::sockaddr_storage,
    len: libc::socklen_t,
) -> Option<SocketAddr> {
    let len = len as usize;
    match i32::from(storage.ss_family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            let a = &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>();
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            let a = &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>();
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

fn std_to_sockaddr(addr: SocketAddr, v6_socket: bool) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage; we write a smaller struct into it.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let addr = match addr {
        // A dual-stack IPv6 socket must be given IPv4 destinations in mapped form.
        SocketAddr::V4(v4) if v6_socket => {
            SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
        }
        a => a,
    };
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe {
                std::ptr::write(
                    (&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>(),
                    sin,
                )
            };
            (storage, size_of::<libc::sockaddr_in>() as libc::socklen_t)
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe {
                std::ptr::write(
                    (&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>(),
                    sin6,
                )
            };
            (storage, size_of::<libc::sockaddr_in6>() as libc::socklen_t)
        }
    }
}

/// SAFETY: `hdr` must be a header the kernel filled in `recvmmsg`.
unsafe fn read_pktinfo(hdr: &libc::msghdr) -> Option<(IpAddr, u32)> {
    let mut cmsg = libc::CMSG_FIRSTHDR(hdr);
    while !cmsg.is_null() {
        let c = &*cmsg;
        if c.cmsg_level == libc::IPPROTO_IP && c.cmsg_type == libc::IP_PKTINFO {
            let info = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::in_pktinfo>());
            // ipi_spec_dst is the local address the kernel would answer from; unlike the
            // header destination (ipi_addr) it is never a broadcast or multicast address.
            return Some((
                IpAddr::V4(Ipv4Addr::from(u32::from_be(info.ipi_spec_dst.s_addr))),
                info.ipi_ifindex as u32,
            ));
        }
        if c.cmsg_level == libc::IPPROTO_IPV6 && c.cmsg_type == libc::IPV6_PKTINFO {
            let info = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::in6_pktinfo>());
            let ip = Ipv6Addr::from(info.ipi6_addr.s6_addr);
            // A multicast destination cannot be a reply's source: let routing choose.
            if ip.is_multicast() {
                return None;
            }
            return Some((IpAddr::V6(ip), info.ipi6_ifindex));
        }
        cmsg = libc::CMSG_NXTHDR(hdr, cmsg);
    }
    None
}

/// Writes a packet-info control message selecting `src` as the reply's source address;
/// returns the control length.
fn write_pktinfo(control: &mut Control, src: IpAddr, ifindex: u32, v6_socket: bool) -> usize {
    control.0 = [0; CONTROL_LEN];
    // SAFETY: a zeroed msghdr whose control buffer is `control`, large enough for either
    // message (checked by the asserts on CMSG_SPACE).
    unsafe {
        let mut hdr: libc::msghdr = zeroed();
        hdr.msg_control = control.0.as_mut_ptr().cast();
        if v6_socket {
            let space = libc::CMSG_SPACE(size_of::<libc::in6_pktinfo>() as u32) as usize;
            assert!(space <= CONTROL_LEN);
            hdr.msg_controllen = space as _;
            let cmsg = libc::CMSG_FIRSTHDR(&hdr);
            (*cmsg).cmsg_level = libc::IPPROTO_IPV6;
            (*cmsg).cmsg_type = libc::IPV6_PKTINFO;
            (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<libc::in6_pktinfo>() as u32) as _;
            let ip6 = match src {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            let info = libc::in6_pktinfo {
                ipi6_addr: libc::in6_addr {
                    s6_addr: ip6.octets(),
                },
                // Only link-local sources need the interface pinned; elsewhere 0 lets
                // routing pick it.
                ipi6_ifindex: if is_link_local(ip6) { ifindex } else { 0 },
            };
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::in6_pktinfo>(), info);
            space
        } else {
            let IpAddr::V4(v4) = src else { return 0 };
            let space = libc::CMSG_SPACE(size_of::<libc::in_pktinfo>() as u32) as usize;
            assert!(space <= CONTROL_LEN);
            hdr.msg_controllen = space as _;
            let cmsg = libc::CMSG_FIRSTHDR(&hdr);
            (*cmsg).cmsg_level = libc::IPPROTO_IP;
            (*cmsg).cmsg_type = libc::IP_PKTINFO;
            (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<libc::in_pktinfo>() as u32) as _;
            let info = libc::in_pktinfo {
                ipi_ifindex: 0,
                ipi_spec_dst: libc::in_addr {
                    s_addr: u32::from(v4).to_be(),
                },
                ipi_addr: libc::in_addr { s_addr: 0 },
            };
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::in_pktinfo>(), info);
            space
        }
    }
}

fn is_link_local(ip: Ipv6Addr) -> bool {
    ip.segments()[0] & 0xffc0 == 0xfe80
}
