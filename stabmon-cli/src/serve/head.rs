//! The request head parser of `stabmon serve`: bytes in, a request or the reason there is none out. No I/O, so
//! that the fuzz target in `benches/fuzz` compiles this file as it is.

/// The largest request head (request line and headers) accepted: larger gets 431.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// The most header fields accepted: more gets 431.
pub const MAX_HEADERS: usize = 32;

/// A parsed request: what the server needs of it, owned.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The request target as sent (path and query), not decoded.
    pub target: String,
    /// `Authorization` header, if any.
    pub authorization: Option<String>,
}

/// Why no request could be read; each maps to a status (or to a silent close).
#[derive(Debug)]
pub enum ReadError {
    /// The client closed before sending a request, or the socket failed: nothing to answer.
    Closed,
    /// The head did not arrive before the deadline (slowloris): 408, then close.
    Timeout,
    /// The head is larger than [`MAX_HEAD_BYTES`] or has more than [`MAX_HEADERS`] fields: 431.
    TooLarge,
    /// Not HTTP/1.x: 400.
    Malformed,
    /// The request carries a body: 413 (nothing of it is read).
    Body,
}

/// Parses the head received so far: `None` while it is incomplete and within [`MAX_HEAD_BYTES`].
pub fn parse_head(buf: &[u8]) -> Result<Option<Request>, ReadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(_)) => to_request(&req).map(Some),
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => Err(ReadError::TooLarge),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(ReadError::TooLarge),
        Err(_) => Err(ReadError::Malformed),
    }
}

fn to_request(req: &httparse::Request<'_, '_>) -> Result<Request, ReadError> {
    let (Some(method), Some(target)) = (req.method, req.path) else {
        return Err(ReadError::Malformed);
    };
    let mut authorization = None;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let len = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok());
            if len != Some(0) {
                return Err(ReadError::Body);
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ReadError::Body);
        } else if h.name.eq_ignore_ascii_case("authorization") {
            authorization = std::str::from_utf8(h.value).ok().map(str::to_owned);
        }
    }
    Ok(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        authorization,
    })
}
