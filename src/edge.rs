//! Guards of the endpoints that sign in or mint credentials: a JSON body (a
//! cross-site form cannot send one without a CORS preflight, which the hub does
//! not grant), a browser's `Origin` naming the hub itself, and in development
//! mode a `Host` that cannot be an attacker's name re-bound to this hub
//! (DNS rebinding): a loopback name or address, or the configured listen address.

use poem::http::header;
use poem::{Body, Request};

/// Why a request body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Longer than allowed (`413`).
    TooLarge,
    /// Not whole within `server.body_read_secs` ([`crate::connections::BodyDeadline`]; `408`).
    Late,
    /// The connection failed (`400`).
    Unreadable,
}

/// Reads a request body of at most `max` bytes. Every endpoint reads its body
/// through this, so each answers a late body `408` and an oversized one `413`.
pub(crate) async fn read_body(body: Body, max: usize) -> Result<Vec<u8>, BodyError> {
    use tokio::io::AsyncReadExt as _;
    let mut reader = body.into_async_read().take(max as u64 + 1);
    let mut buf = Vec::new();
    reader.read_to_end(&mut buf).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::TimedOut {
            BodyError::Late
        } else {
            BodyError::Unreadable
        }
    })?;
    if buf.len() > max {
        return Err(BodyError::TooLarge);
    }
    Ok(buf)
}

/// Whether the body is declared `application/json` (parameters such as
/// `charset` allowed; `application/jsonx` and the like are not).
pub(crate) fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// `host[:port]` (IPv6 in brackets) as a lowercase host and a port, `default`
/// when none is written.
fn authority(text: &str, default: u16) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    if host.is_empty() || host.contains(['/', '@', '?', '#']) {
        return None;
    }
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default,
    };
    Some((host.to_ascii_lowercase(), port))
}

/// A browser's `Origin` as (scheme, host, port); `None` if it is not one.
fn origin_of(origin: &str) -> Option<(&str, String, u16)> {
    let (scheme, rest) = origin.split_once("://")?;
    let default = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let (host, port) = authority(rest, default)?;
    Some((scheme, host, port))
}

fn one_header(req: &Request, name: header::HeaderName) -> Result<Option<&str>, ()> {
    let mut values = req.headers().get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(());
    }
    first.map(|v| v.to_str().map_err(|_| ())).transpose()
}

/// Whether the request is not a cross-site one: no `Origin` (not a browser,
/// or a same-origin navigation), or an `Origin` naming the host and port the
/// request was sent to (`Host`), over http or https (behind a TLS proxy).
pub(crate) fn same_origin(req: &Request) -> bool {
    let Ok(origin) = one_header(req, header::ORIGIN) else {
        return false;
    };
    let Some(origin) = origin else {
        return true;
    };
    let Some((scheme, host, port)) = origin_of(origin) else {
        return false;
    };
    let default = if scheme == "https" { 443 } else { 80 };
    let Ok(Some(sent_to)) = one_header(req, header::HOST) else {
        return false;
    };
    authority(sent_to, default) == Some((host, port))
}

/// Whether a development-mode request that mints a credential or signs in may:
/// its `Host` is a loopback name or address, or `listen` (the configured
/// listen address, unless that is a wildcard), and its `Origin`, when a browser
/// sends one, is exactly `http://` that host and port.
pub(crate) fn local_request(req: &Request, listen: &str) -> bool {
    let Ok(Some(sent_to)) = one_header(req, header::HOST) else {
        return false;
    };
    let Some((host, port)) = authority(sent_to, 80) else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare == "localhost"
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let listening = authority(listen, 80).is_some_and(|(h, p)| {
        let wildcard = h
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified());
        !wildcard && h == host && p == port
    });
    if !loopback && !listening {
        return false;
    }
    match one_header(req, header::ORIGIN) {
        Ok(None) => true,
        Ok(Some(origin)) => {
            origin_of(origin).is_some_and(|(s, h, p)| s == "http" && h == host && p == port)
        }
        Err(()) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(host: &str, origin: Option<&str>) -> Request {
        let mut b = Request::builder().header(header::HOST, host);
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        b.finish()
    }

    #[test]
    fn development_requests_come_from_this_machine_only() {
        let listen = "10.0.0.5:8710";
        for (host, origin) in [
            ("127.0.0.1:8710", None),
            ("127.0.0.1:8710", Some("http://127.0.0.1:8710")),
            ("localhost:8710", Some("http://localhost:8710")),
            ("[::1]:8710", Some("http://[::1]:8710")),
            ("10.0.0.5:8710", Some("http://10.0.0.5:8710")),
        ] {
            assert!(
                local_request(&req(host, origin), listen),
                "{host} {origin:?}"
            );
        }
        for (host, origin) in [
            ("evil.example", Some("http://evil.example")),
            ("evil.example:8710", None),
            ("127.0.0.1:8710", Some("https://127.0.0.1:8710")),
            ("127.0.0.1:8710", Some("http://127.0.0.1:8711")),
            ("127.0.0.1:8710", Some("http://evil.example")),
            ("127.0.0.1:8710", Some("null")),
            ("10.0.0.5:8711", None),
        ] {
            assert!(
                !local_request(&req(host, origin), listen),
                "{host} {origin:?}"
            );
        }
        assert!(!local_request(&req("0.0.0.0:8710", None), "0.0.0.0:8710"));
    }

    #[test]
    fn same_origin_compares_host_and_port() {
        assert!(same_origin(&req("hub.example", None)));
        assert!(same_origin(&req(
            "hub.example",
            Some("https://hub.example")
        )));
        assert!(same_origin(&req(
            "hub.example:8080",
            Some("http://hub.example:8080")
        )));
        assert!(!same_origin(&req(
            "hub.example",
            Some("https://evil.example")
        )));
        assert!(!same_origin(&req("hub.example", Some("null"))));
    }
}
