//! HTTP/1.1 over a plain `TcpStream`: one request per connection ([`request`], [`get`],
//! [`request_raw`]), the response parser they share ([`parse_response`]), and a keep-alive
//! client for load ([`KeepAlive`]: one connection per request would pile up TIME_WAIT
//! sockets).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long one HTTP exchange may take before the client gives up. Only an upper bound: a
/// healthy server answers in milliseconds and the wait ends as soon as it does.
pub const IO_LIMIT: Duration = Duration::from_secs(30);

/// One HTTP response as read off the wire.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Headers in wire order, names lowercased, values with surrounding whitespace trimmed.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked if the server chunked it; empty for `HEAD`.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first line of the body (of a mirrorlist: the `# repo = ...` header with the groups
    /// used), empty if there is none.
    pub fn first_line(&self) -> String {
        self.text().lines().next().unwrap_or("").to_string()
    }

    /// The body's lines, sorted: each group of a mirrorlist is shuffled by weight, so the
    /// order changes between requests, but the set of mirrors for one client does not.
    pub fn sorted_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.text().lines().map(str::to_string).collect();
        lines.sort();
        lines
    }
}

/// `GET target` with no extra headers.
pub fn get(addr: SocketAddr, target: &str) -> Response {
    request(addr, "GET", target, &[])
}

/// Sends one HTTP/1.1 request (`method target`, `Host`, `Connection: close`, then
/// `extra_headers` as given) and reads the response to EOF. `content-length` bounds the body
/// when present, `transfer-encoding: chunked` is decoded, and a `HEAD` response has no body.
/// Panics on I/O errors or a malformed response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    extra_headers: &[(&str, &str)],
) -> Response {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in extra_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    request_raw(addr, head.as_bytes(), method.eq_ignore_ascii_case("HEAD"))
}

/// Sends `raw` bytes as they are (a complete request, e.g. with bytes that are not UTF-8 in a
/// header) and parses the response as [`request`] does. `head_request` says whether the
/// response to expect has no body.
pub fn request_raw(addr: SocketAddr, raw: &[u8], head_request: bool) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(IO_LIMIT)).unwrap();
    stream.set_write_timeout(Some(IO_LIMIT)).unwrap();
    stream.write_all(raw).expect("send the request");
    let mut bytes = Vec::new();
    stream
        .read_to_end(&mut bytes)
        .expect("read the response to EOF");
    parse_response(&bytes, head_request)
}

/// Parses a complete HTTP/1.1 response (status line, headers, body).
pub fn parse_response(bytes: &[u8], head_request: bool) -> Response {
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no end of headers in response: {:?}",
                String::from_utf8_lossy(bytes)
            )
        });
    let head = std::str::from_utf8(&bytes[..split]).expect("response head is UTF-8");
    let rest = &bytes[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    assert!(
        version.starts_with("HTTP/1."),
        "bad status line {status_line:?}"
    );
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("bad header line {l:?}"));
            (n.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let body = if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)
    } else if let Some(len) = find("content-length") {
        let len: usize = len.parse().expect("numeric content-length");
        assert!(
            rest.len() >= len,
            "body cut short: content-length {len}, got {} bytes",
            rest.len()
        );
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = std::str::from_utf8(&data[..eol]).expect("chunk size is text");
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).expect("hex chunk size");
        data = &data[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// One HTTP/1.1 connection reused for many requests.
pub struct KeepAlive {
    addr: SocketAddr,
    stream: TcpStream,
    buf: Vec<u8>,
}

impl KeepAlive {
    pub fn connect(addr: SocketAddr) -> std::io::Result<KeepAlive> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(IO_LIMIT))?;
        stream.set_write_timeout(Some(IO_LIMIT))?;
        stream.set_nodelay(true)?;
        Ok(KeepAlive {
            addr,
            stream,
            buf: Vec::new(),
        })
    }

    /// `GET target`; the response must carry a `content-length` (the server's always do).
    pub fn get(&mut self, target: &str) -> std::io::Result<Response> {
        let head = format!("GET {target} HTTP/1.1\r\nHost: {}\r\n\r\n", self.addr);
        self.stream.write_all(head.as_bytes())?;
        self.buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        let end_of_head = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&self.buf[..end_of_head]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| std::io::Error::other("response without content-length"))?;
        while self.buf.len() < end_of_head + len {
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        if self.buf.len() != end_of_head + len {
            return Err(std::io::Error::other("bytes after the response"));
        }
        Ok(parse_response(&self.buf, false))
    }
}
