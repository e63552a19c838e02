//! Sesame patch: a chunked-body decoder that reads RFC 9112 §7.1 exactly and refuses anything
//! else, replacing `chunked_transfer::Decoder` for buffered bodies. The lenient decoder took
//! `+14` as a chunk size (Rust's `from_str_radix` accepts a sign) and ended a chunk-size line
//! or an extension at a bare LF: where a proxy in front reads such bytes differently, the two
//! disagree on where the body ends, which is how requests are smuggled.
//!
//! ```text
//! chunked-body = *chunk last-chunk trailer-section CRLF
//! chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! chunk-size   = 1*HEXDIG
//! chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//! ```
//!
//! Every framing error is `ErrorKind::InvalidInput` (the caller answers 400 and closes); the
//! decoder never reads a byte past the body, so a pipelined request after it stays intact.

use std::io::{self, ErrorKind, Read};

/// Longest chunk-size line (size and extensions) or trailer line.
const MAX_LINE: usize = 4096;
/// Most trailer bytes in all.
const MAX_TRAILERS: usize = 16 * 1024;

enum State {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data: bytes left.
    Data(usize),
    /// After a chunk's data: expecting its CRLF.
    DataEnd,
    Done,
}

pub(crate) struct StrictChunkedDecoder<R> {
    inner: R,
    state: State,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(
        ErrorKind::InvalidInput,
        format!("malformed chunked body: {what}"),
    )
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl<R: Read> StrictChunkedDecoder<R> {
    pub(crate) fn new(inner: R) -> Self {
        StrictChunkedDecoder {
            inner,
            state: State::Size,
        }
    }

    fn byte(&mut self) -> io::Result<u8> {
        let mut b = [0u8; 1];
        match self.inner.read(&mut b)? {
            0 => Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                "connection closed inside a chunked body",
            )),
            _ => Ok(b[0]),
        }
    }

    /// One line ending in CRLF, without it; a CR or LF alone, or a NUL, is an error.
    fn line(&mut self, max: usize) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        loop {
            match self.byte()? {
                b'\r' => {
                    return match self.byte()? {
                        b'\n' => Ok(line),
                        _ => Err(invalid("CR without LF")),
                    }
                }
                b'\n' => return Err(invalid("LF without CR")),
                0 => return Err(invalid("NUL")),
                b => line.push(b),
            }
            if line.len() > max {
                return Err(invalid("line too long"));
            }
        }
    }

    /// Reads a chunk-size line and returns the size.
    fn size_line(&mut self) -> io::Result<usize> {
        let line = self.line(MAX_LINE)?;
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 {
            return Err(invalid("chunk size is not hexadecimal"));
        }
        let (hex, ext) = line.split_at(digits);
        let hex = std::str::from_utf8(hex).map_err(|_| invalid("chunk size"))?;
        let size = usize::from_str_radix(hex, 16).map_err(|_| invalid("chunk size overflows"))?;
        check_extensions(ext)?;
        Ok(size)
    }

    /// Reads the trailer section (header fields, then an empty line).
    fn trailers(&mut self) -> io::Result<()> {
        let mut total = 0;
        loop {
            let line = self.line(MAX_LINE)?;
            if line.is_empty() {
                return Ok(());
            }
            total += line.len() + 2;
            if total > MAX_TRAILERS {
                return Err(invalid("trailers too long"));
            }
            let colon = line.iter().position(|&b| b == b':').unwrap_or(0);
            if colon == 0 || !line[..colon].iter().all(|&b| is_tchar(b)) {
                return Err(invalid("malformed trailer field"));
            }
            if line[colon + 1..]
                .iter()
                .any(|&b| b.is_ascii_control() && b != b'\t')
            {
                return Err(invalid("control character in a trailer"));
            }
        }
    }
}

/// `*( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`, where a value is a token
/// or a quoted-string.
fn check_extensions(mut ext: &[u8]) -> io::Result<()> {
    let skip_ws = |s: &mut &[u8]| {
        while let [b' ' | b'\t', rest @ ..] = *s {
            *s = rest;
        }
    };
    let token = |s: &mut &[u8]| -> io::Result<()> {
        let n = s.iter().take_while(|&&b| is_tchar(b)).count();
        if n == 0 {
            return Err(invalid("chunk extension"));
        }
        *s = &s[n..];
        Ok(())
    };
    loop {
        if ext.is_empty() {
            return Ok(());
        }
        // Whitespace only before a ";": `5 ` alone is not a chunk size.
        skip_ws(&mut ext);
        match ext {
            [b';', rest @ ..] => ext = rest,
            _ => return Err(invalid("chunk extension")),
        }
        skip_ws(&mut ext);
        token(&mut ext)?;
        skip_ws(&mut ext);
        if let [b'=', rest @ ..] = ext {
            ext = rest;
            skip_ws(&mut ext);
            if let [b'"', rest @ ..] = ext {
                ext = rest;
                loop {
                    match ext {
                        [b'"', rest @ ..] => {
                            ext = rest;
                            break;
                        }
                        [b'\\', q, rest @ ..] if *q == b'\t' || (b' '..=b'~').contains(q) => {
                            ext = rest
                        }
                        [b, rest @ ..]
                            if *b == b'\t' || (b' '..=b'~').contains(b) && *b != b'\\' =>
                        {
                            ext = rest
                        }
                        _ => return Err(invalid("chunk extension value")),
                    }
                }
            } else {
                token(&mut ext)?;
            }
        }
    }
}

impl<R: Read> Read for StrictChunkedDecoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Size => match self.size_line()? {
                    0 => {
                        self.trailers()?;
                        self.state = State::Done;
                    }
                    n => self.state = State::Data(n),
                },
                State::Data(left) => {
                    if buf.is_empty() {
                        return Ok(0);
                    }
                    let want = left.min(buf.len());
                    let n = self.inner.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(io::Error::new(
                            ErrorKind::UnexpectedEof,
                            "connection closed inside a chunk",
                        ));
                    }
                    self.state = if n == left {
                        State::DataEnd
                    } else {
                        State::Data(left - n)
                    };
                    return Ok(n);
                }
                State::DataEnd => {
                    if self.byte()? != b'\r' || self.byte()? != b'\n' {
                        return Err(invalid("chunk data not followed by CRLF"));
                    }
                    self.state = State::Size;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &[u8]) -> io::Result<(Vec<u8>, Vec<u8>)> {
        let mut reader = body;
        let mut out = Vec::new();
        StrictChunkedDecoder::new(&mut reader).read_to_end(&mut out)?;
        Ok((out, reader.to_vec()))
    }

    #[test]
    fn reads_well_formed_bodies_and_stops_at_their_end() {
        let (body, rest) =
            decode(b"5\r\nhello\r\n6;a=b;c=\"d \\\" e\"\r\n world\r\n0\r\nX-T: v\r\n\r\nNEXT")
                .unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(rest, b"NEXT");
        let (body, _) = decode(b"A \t; ext\r\n0123456789\r\n0\r\n\r\n").unwrap();
        assert_eq!(body, b"0123456789");
    }

    #[test]
    fn refuses_lenient_framing() {
        for bad in [
            &b"+5\r\nhello\r\n0\r\n\r\n"[..],
            b"-5\r\nhello\r\n0\r\n\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b" 5\r\nhello\r\n0\r\n\r\n",
            b"5 \r\nhello\r\n0\r\n\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5;ext\nhello\r\n0\r\n\r\n",
            b"5\rhello\r\n0\r\n\r\n",
            b"5;\r\nhello\r\n0\r\n\r\n",
            b"5;a=\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"open\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"10000000000000000\r\n",
            b"0\r\nX-T: a\nb\r\n\r\n",
            b"0\r\nbad trailer\r\n\r\n",
            b"0\r\nX-T: a\0\r\n\r\n",
        ] {
            let err = decode(bad).expect_err(&String::from_utf8_lossy(bad));
            assert_eq!(
                err.kind(),
                ErrorKind::InvalidInput,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let eof = decode(b"5\r\nhel").unwrap_err();
        assert_eq!(eof.kind(), ErrorKind::UnexpectedEof);
    }
}
