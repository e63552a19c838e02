use ascii::AsciiString;

use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufReader, BufWriter, ErrorKind, Read};

use std::net::SocketAddr;
use std::str::FromStr;

use crate::common::{HTTPVersion, Method};
use crate::limits::{self, ConnectionLimits, Deadline};
use crate::util::strict_chunked::StrictChunkedDecoder;
use crate::util::RefinedTcpStream;
use crate::util::{
    SequentialReader, SequentialReaderBuilder, SequentialWriter, SequentialWriterBuilder,
};
use crate::Request;
use std::sync::Arc;

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    // address of the client
    remote_addr: IoResult<Option<SocketAddr>>,

    // sequence of Readers to the stream, so that the data is not read in
    //  the wrong order
    source: SequentialReaderBuilder<BufReader<RefinedTcpStream>>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // Reader to read the next header from
    next_header_source: SequentialReader<BufReader<RefinedTcpStream>>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // true if the connection goes through SSL
    secure: bool,

    // Sesame patch: the server's limits
    limits: Arc<ConnectionLimits>,

    // Sesame patch: bytes of a refused body to drain before closing
    drain_before_close: usize,

    // Sesame patch: the writer of the next request, taken once the previous answer is written
    next_writer: Option<SequentialWriter<BufWriter<RefinedTcpStream>>>,
}

/// Error that can happen when reading a request.
#[derive(Debug)]
enum ReadError {
    WrongRequestLine,
    WrongHeader(HTTPVersion),
    /// the client sent an unrecognized `Expect` header
    ExpectationFailed(HTTPVersion),
    ReadIoError(IoError),
    /// Sesame patch: request line plus headers over `max_header_bytes`
    HeaderTooLarge(HTTPVersion),
    /// Sesame patch: bad `Content-Length` / `Transfer-Encoding` framing, or a non-ASCII head
    BadFraming(HTTPVersion),
}

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    pub fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
        limits: Arc<ConnectionLimits>,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr();
        let secure = read_socket.secure();

        let mut source = SequentialReaderBuilder::new(BufReader::with_capacity(1024, read_socket));
        let first_header = source.next().unwrap();

        ClientConnection {
            source,
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write_socket)),
            remote_addr,
            next_header_source: first_header,
            no_more_requests: false,
            secure,
            limits,
            drain_before_close: 0,
            next_writer: None,
        }
    }

    /// true if the connection is HTTPS
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Reads the next line from self.next_header_source.
    ///
    /// Reads until `CRLF` is reached. The next read will start
    ///  at the first byte of the new line.
    ///
    /// Sesame patch: every byte counts against `budget` (`Ok(None)` once it is spent) and the
    /// `deadline`; a CR or LF that is not part of the line's CRLF, or a NUL, is `InvalidData`
    /// at once (RFC 9112 §2.2: bare CR/LF let a proxy and this server split lines differently).
    fn read_next_line(
        &mut self,
        budget: &mut usize,
        deadline: &mut Deadline,
    ) -> IoResult<Option<AsciiString>> {
        let mut buf = Vec::new();
        let mut prev_byte_was_cr = false;
        // Sesame patch: the bytes are scanned in the connection's buffer, and the deadline is
        // checked each time the buffer is filled (each arrival of data: a client trickling a
        // byte at a time still meets it per byte) instead of once per byte already buffered,
        // which read the clock some 200 times per request. A read interrupted by a signal is
        // retried a bounded number of times, as `Read::bytes` retried it.
        let mut interrupted = 0;
        loop {
            let available = match self.next_header_source.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == ErrorKind::Interrupted && interrupted < 64 => {
                    interrupted += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Err(IoError::new(ErrorKind::ConnectionAborted, "Unexpected EOF"));
            }
            deadline.tick()?;
            let len = available.len();
            let mut used = 0;
            let mut line_end = None;
            for &byte in available {
                if *budget == 0 {
                    break;
                }
                *budget -= 1;
                used += 1;
                if byte == b'\n' && prev_byte_was_cr {
                    line_end = Some(Ok(()));
                    break;
                }
                if byte == b'\n' || byte == 0 || prev_byte_was_cr {
                    line_end = Some(Err(()));
                    break;
                }
                prev_byte_was_cr = byte == b'\r';
            }
            // The line's bytes in one copy; the byte that ended the scan is not part of it.
            let kept = if line_end.is_some() { used - 1 } else { used };
            buf.extend_from_slice(&available[..kept]);
            self.next_header_source.consume(used);
            match line_end {
                Some(Ok(())) => {
                    buf.pop(); // removing the '\r'
                    return AsciiString::from_ascii(buf).map(Some).map_err(|_| {
                        IoError::new(ErrorKind::InvalidData, "Header is not in ASCII")
                    });
                }
                Some(Err(())) => {
                    return Err(IoError::new(
                        ErrorKind::InvalidData,
                        "bare CR, bare LF or NUL in the request head",
                    ))
                }
                // As when read byte by byte: the budget is found spent on the byte after it
                // (awaited if need be, so an end of stream is still an error).
                None if *budget == 0 && used < len => return Ok(None),
                None => {}
            }
        }
    }

    /// Reads a request from the stream.
    /// Blocks until the header has been read.
    fn read(&mut self) -> Result<Request, ReadError> {
        let mut budget = self.limits.max_header_bytes;
        let mut deadline = Deadline::new(self.limits.request_timeout);
        let (method, path, version, headers) = {
            // reading the request line
            let (method, path, version) = {
                let line = match self.read_next_line(&mut budget, &mut deadline) {
                    Ok(Some(line)) => line,
                    Ok(None) => return Err(ReadError::HeaderTooLarge(HTTPVersion(1, 1))),
                    Err(e) if e.kind() == ErrorKind::InvalidData => {
                        return Err(ReadError::WrongRequestLine)
                    }
                    Err(e) => return Err(ReadError::ReadIoError(e)),
                };

                let (method, path, version) = parse_request_line(
                    line.as_str().trim(), // TODO: remove this conversion
                )?;
                // Sesame patch: an HTTP/2 or /3 request line over HTTP/1 framing is a malformed
                // request (400, then close), not a server failure (upstream answered 505).
                if version > (1, 1) {
                    return Err(ReadError::WrongRequestLine);
                }
                (method, path, version)
            };

            // getting all headers
            let headers = {
                let mut headers = Vec::new();
                loop {
                    let line = match self.read_next_line(&mut budget, &mut deadline) {
                        Ok(Some(line)) => line,
                        Ok(None) => return Err(ReadError::HeaderTooLarge(version)),
                        Err(e) if e.kind() == ErrorKind::InvalidData => {
                            return Err(ReadError::BadFraming(version))
                        }
                        Err(e) => return Err(ReadError::ReadIoError(e)),
                    };

                    if line.is_empty() {
                        break;
                    };
                    // Sesame patch: obsolete line folding (a line starting with whitespace) is
                    // refused, as RFC 9112 §5.2 allows: folded into the previous field by one
                    // reader and a field of its own for another, it smuggles headers.
                    if line
                        .as_bytes()
                        .first()
                        .is_some_and(|b| *b == b' ' || *b == b'\t')
                    {
                        return Err(ReadError::BadFraming(version));
                    }
                    let name_ok = match line.as_str().split_once(':') {
                        Some((name, _)) => !name.is_empty() && name.bytes().all(is_tchar),
                        None => false,
                    };
                    if !name_ok {
                        return Err(ReadError::WrongHeader(version));
                    }
                    headers.push(match FromStr::from_str(line.as_str().trim()) {
                        // TODO: remove this conversion
                        Ok(h) => h,
                        _ => return Err(ReadError::WrongHeader(version)),
                    });
                }

                headers
            };

            (method, path, version, headers)
        };

        // building the writer for the request
        let writer = self.take_writer();

        // follow-up for next potential request
        let mut data_source = self.source.next().unwrap();
        std::mem::swap(&mut self.next_header_source, &mut data_source);

        let remote_addr = self.remote_addr.as_ref().ok().copied().flatten();
        if let Some(max_body) = self.limits.max_body_bytes {
            return self.read_buffered(
                method,
                path,
                version,
                headers,
                remote_addr,
                data_source,
                writer,
                max_body,
            );
        }

        // building the next reader
        let request = crate::request::new_request(
            self.secure,
            method,
            path,
            version.clone(),
            headers,
            remote_addr,
            data_source,
            writer,
        )
        .map_err(|e| {
            use crate::request;
            match e {
                request::RequestCreationError::CreationIoError(e) => ReadError::ReadIoError(e),
                request::RequestCreationError::ExpectationFailed => {
                    ReadError::ExpectationFailed(version)
                }
            }
        })?;

        // return the request
        Ok(request)
    }
}

impl ClientConnection {
    /// Sesame patch: reads the body on this connection's thread (capped, within the deadline)
    /// and hands over a request whose body is in memory. Framing a proxy and Sesame could read
    /// differently (request smuggling) is refused: a `Transfer-Encoding` other than exactly
    /// `chunked`, an unparsable `Content-Length`, or several different ones.
    #[allow(clippy::too_many_arguments)]
    fn read_buffered(
        &mut self,
        method: Method,
        path: String,
        version: HTTPVersion,
        headers: Vec<crate::Header>,
        remote_addr: Option<SocketAddr>,
        mut data_source: SequentialReader<BufReader<RefinedTcpStream>>,
        mut writer: crate::util::SequentialWriter<BufWriter<RefinedTcpStream>>,
        max_body: usize,
    ) -> Result<Request, ReadError> {
        use std::io::Write;

        let transfer_encoding: Vec<&str> = headers
            .iter()
            .filter(|h| h.field.equiv("Transfer-Encoding"))
            .map(|h| h.value.as_str())
            .collect();
        let lengths: Vec<&str> = headers
            .iter()
            .filter(|h| h.field.equiv("Content-Length"))
            .map(|h| h.value.as_str().trim())
            .collect();
        let chunked = match transfer_encoding.as_slice() {
            [] => false,
            [te] if te.trim().eq_ignore_ascii_case("chunked") => true,
            _ => return Err(ReadError::BadFraming(version)),
        };
        let content_length = if chunked {
            // Both headers: the message is read as chunked and the connection closes after it.
            if !lengths.is_empty() {
                self.no_more_requests = true;
            }
            None
        } else {
            let mut parsed = None;
            for l in &lengths {
                if l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ReadError::BadFraming(version));
                }
                let n: usize = l
                    .parse()
                    .map_err(|_| ReadError::BadFraming(version.clone()))?;
                if parsed.is_some_and(|p| p != n) {
                    return Err(ReadError::BadFraming(version));
                }
                parsed = Some(n);
            }
            Some(parsed.unwrap_or(0))
        };
        let expects_continue = match headers
            .iter()
            .find(|h| h.field.equiv("Expect"))
            .map(|h| h.value.as_str())
        {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("100-continue") => true,
            _ => return Err(ReadError::ExpectationFailed(version)),
        };

        let too_large = content_length.is_some_and(|n| n > max_body);
        let body = if too_large {
            None
        } else if content_length == Some(0) {
            Some(Vec::new())
        } else {
            if expects_continue {
                let sent = writer
                    .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .and_then(|_| writer.flush());
                if let Err(e) = sent {
                    return Err(ReadError::ReadIoError(e));
                }
            }
            let timeout = self.limits.request_timeout;
            let read = match content_length {
                Some(n) => {
                    limits::read_capped(data_source.by_ref().take(n as u64), max_body, timeout)
                        .and_then(|b| match b {
                            limits::Body::Complete(v) if v.len() < n => Err(IoError::new(
                                ErrorKind::ConnectionAborted,
                                "connection closed before the whole body arrived",
                            )),
                            other => Ok(other),
                        })
                }
                None => limits::read_capped(
                    StrictChunkedDecoder::new(data_source.by_ref()),
                    max_body,
                    timeout,
                ),
            };
            match read {
                Ok(limits::Body::Complete(v)) => Some(v),
                Ok(limits::Body::TooLarge) => None,
                // A malformed chunked body is the client's fault: 400, then close.
                Err(e) if e.kind() == ErrorKind::InvalidInput => {
                    return Err(ReadError::BadFraming(version))
                }
                Err(e) => return Err(ReadError::ReadIoError(e)),
            }
        };
        let body_too_large = body.is_none();
        if body_too_large {
            // The rest of the body is never parsed as a request: drain a little so the client
            // sees the answer, then close (after an `Expect: 100-continue` nothing was sent).
            self.no_more_requests = true;
            self.drain_before_close = match content_length {
                Some(n) if !expects_continue => n.min(self.limits.max_drain_bytes),
                // After `Expect: 100-continue` nothing was asked for; a chunked body stopped
                // mid-chunk cannot be drained by length.
                _ => 0,
            };
        }
        // Hands the socket on to the next request's reader, just past this body (or at the
        // start of a refused one, which `next()` drains).
        drop(data_source);

        Ok(crate::request::new_buffered_request(
            self.secure,
            method,
            path,
            version,
            headers,
            remote_addr,
            body.unwrap_or_default(),
            body_too_large,
            content_length,
            writer,
        ))
    }

    /// Sesame patch: a response written by tiny_http itself, with the configured body.
    /// Sesame patch: the writer taken by `next` (the previous answer is written), else a new one.
    fn take_writer(&mut self) -> SequentialWriter<BufWriter<RefinedTcpStream>> {
        match self.next_writer.take() {
            Some(w) => w,
            None => self.sink.next().unwrap(),
        }
    }

    fn write_error(&mut self, status: u16, version: HTTPVersion) {
        use crate::{Response, StatusCode};
        let writer = self.take_writer();
        let mut response = Response::from_data(Vec::new()).with_status_code(StatusCode(status));
        if let Some(render) = self.limits.error_body {
            let (headers, body) = render(status);
            response = Response::from_data(body).with_status_code(StatusCode(status));
            for (name, value) in headers {
                if let Ok(h) = crate::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                    response.add_header(h);
                }
            }
        }
        response
            .with_connection_close()
            .raw_print(writer, version, &[], false, None)
            .ok();
    }
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests {
            if self.drain_before_close > 0 {
                // Sesame patch: once the previous request is done with the socket, read (a
                // bounded amount of) the refused body so the close does not reset the
                // connection before the client has read the answer.
                let n = std::mem::take(&mut self.drain_before_close);
                limits::drain(
                    self.next_header_source.by_ref(),
                    n,
                    self.limits.request_timeout,
                );
            }
            return None;
        }

        // Sesame patch: the next request is read once the previous answer is written, so the
        // socket's read timeout (the keep-alive idle time) counts from the answer, as a client
        // expects, not from when the previous request was handed over: a slow answer no longer
        // eats the client's idle time and meets its next request with a 408.
        let mut writer = self.sink.next().unwrap();
        writer.wait_turn();
        self.next_writer = Some(writer);

        // Sesame patch: every error tiny_http answers by itself closes the connection (we do
        // not know where the next request would start), and uses the configured body.
        let mut rq = match self.read() {
            Err(ReadError::WrongRequestLine) => {
                self.write_error(400, HTTPVersion(1, 1));
                return None;
            }
            Err(ReadError::WrongHeader(ver)) | Err(ReadError::BadFraming(ver)) => {
                self.write_error(400, ver);
                return None;
            }
            Err(ReadError::HeaderTooLarge(ver)) => {
                self.write_error(431, ver);
                return None;
            }
            Err(ReadError::ReadIoError(ref err)) if err.kind() == ErrorKind::TimedOut => {
                self.write_error(408, HTTPVersion(1, 1));
                return None;
            }
            Err(ReadError::ReadIoError(ref err)) if err.kind() == ErrorKind::WouldBlock => {
                // SO_RCVTIMEO expiring reads as EAGAIN on Unix: the same request timeout.
                self.write_error(408, HTTPVersion(1, 1));
                return None;
            }
            Err(ReadError::ExpectationFailed(ver)) => {
                self.write_error(417, ver);
                return None;
            }
            Err(ReadError::ReadIoError(_)) => return None,
            Ok(rq) => rq,
        };

        // updating the status of the connection
        let connection_header = rq
            .headers()
            .iter()
            .find(|h| h.field.equiv("Connection"))
            .map(|h| h.value.as_str());

        let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

        match lowercase {
            Some(ref val) if val.contains("close") => self.no_more_requests = true,
            Some(ref val) if val.contains("upgrade") => self.no_more_requests = true,
            Some(ref val)
                if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
            {
                self.no_more_requests = true
            }
            None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
            _ => (),
        };
        // Sesame patch: the response says when the connection closes after it.
        if self.no_more_requests {
            rq.set_closes_connection();
        }

        // returning the request
        Some(rq)
    }
}

/// Sesame patch: a `tchar` of RFC 9110 §5.6.2, what a field name is made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses a "HTTP/1.1" string.
fn parse_http_version(version: &str) -> Result<HTTPVersion, ReadError> {
    let (major, minor) = match version {
        "HTTP/0.9" => (0, 9),
        "HTTP/1.0" => (1, 0),
        "HTTP/1.1" => (1, 1),
        "HTTP/2.0" => (2, 0),
        "HTTP/3.0" => (3, 0),
        _ => return Err(ReadError::WrongRequestLine),
    };

    Ok(HTTPVersion(major, minor))
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), ReadError> {
    let mut parts = line.split(' ');

    let method = parts.next().and_then(|w| w.parse().ok());
    let path = parts.next().map(ToOwned::to_owned);
    let version = parts.next().and_then(|w| parse_http_version(w).ok());

    method
        .and_then(|method| Some((method, path?, version?)))
        .ok_or(ReadError::WrongRequestLine)
}

#[cfg(test)]
mod test {
    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_err());
        assert!(super::parse_request_line("qsd qsd qsd").is_err());
    }
}
