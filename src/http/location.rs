//! `Location` headers as they go out, over HTTP and in-process alike: percent-encoded the way
//! Better Auth's redirects come out of `new URL(..)` (WHATWG URL serialisation, as its
//! `appendQueryParams` does), so a callback URL such as `/café`, `/a b` or `/<b>` always reaches
//! the client as `/caf%C3%A9`, `/a%20b`, `/%3Cb%3E`. A header value must be ASCII; written raw,
//! such a target was dropped, and Better Auth itself answers 500 for characters beyond Latin-1.
//!
//! Only characters are escaped, never the structure: an existing `%XX` is kept (nothing is
//! encoded twice), dot segments and backslashes are left as the caller wrote them (the targets
//! were checked as written), and a non-ASCII host becomes its IDNA (punycode) form.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

/// WHATWG's fragment percent-encode set (C0 controls and DEL come with `CONTROLS`).
const FRAGMENT: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'<').add(b'>').add(b'`');
/// The path percent-encode set.
const PATH: &AsciiSet = &FRAGMENT.add(b'#').add(b'?').add(b'{').add(b'}');
/// The special-query percent-encode set (http and https are special schemes).
const QUERY: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'<').add(b'>').add(b'\'');

/// `target` as a valid header value that names the same place.
pub fn encode(target: &str) -> String {
    let (rest, fragment) = match target.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (target, None),
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (origin, path) = split_origin(before_query);
    let mut out = String::with_capacity(target.len() + 16);
    out.push_str(&origin);
    out.extend(utf8_percent_encode(path, PATH));
    if let Some(q) = query {
        out.push('?');
        out.extend(utf8_percent_encode(q, QUERY));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.extend(utf8_percent_encode(f, FRAGMENT));
    }
    out
}

/// Splits `scheme://authority` off an absolute URL, the authority in ASCII form; a relative
/// target has no origin.
fn split_origin(s: &str) -> (String, &str) {
    let Some((scheme, after)) = s.split_once("://") else {
        return (String::new(), s);
    };
    let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !valid_scheme {
        return (String::new(), s);
    }
    let end = after.find('/').unwrap_or(after.len());
    let (authority, path) = after.split_at(end);
    (format!("{scheme}://{}", ascii_authority(scheme, authority)), path)
}

/// The authority with a non-ASCII host turned into punycode; escaped if it cannot be parsed.
fn ascii_authority(scheme: &str, authority: &str) -> String {
    if authority.is_ascii() {
        return utf8_percent_encode(authority, PATH).to_string();
    }
    match url::Url::parse(&format!("{scheme}://{authority}/")) {
        Ok(u) => {
            let full = u.as_str();
            let start = scheme.len() + 3;
            full.get(start..full.len() - 1).unwrap_or_default().to_string()
        }
        Err(_) => utf8_percent_encode(authority, PATH).to_string(),
    }
}

/// Encodes every `Location` header of a response in place.
pub fn encode_headers(headers: &mut [(String, String)]) {
    for (name, value) in headers.iter_mut() {
        if name.eq_ignore_ascii_case("location") {
            *value = encode(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn encodes_like_the_reference() {
        // Each pair was observed on Better Auth 1.7.25 (`/verify-email?callbackURL=…` error
        // redirects, whose target goes through `new URL`), with the added query left out.
        for (raw, wire) in [
            ("/ü", "/%C3%BC"),
            ("/café", "/caf%C3%A9"),
            ("/willkommen-ü", "/willkommen-%C3%BC"),
            ("/a b", "/a%20b"),
            ("/<b>", "/%3Cb%3E"),
            ("/日本", "/%E6%97%A5%E6%9C%AC"),
            ("/x?q=ü&r=a b#frag", "/x?q=%C3%BC&r=a%20b#frag"),
            ("/%C3%BC", "/%C3%BC"),
            ("/a%20b", "/a%20b"),
            ("/it's", "/it's"),
            ("/a\"b", "/a%22b"),
            ("/ä%zz", "/%C3%A4%zz"),
        ] {
            assert_eq!(encode(raw), wire, "{raw}");
        }
    }

    #[test]
    fn each_part_uses_its_own_set() {
        assert_eq!(encode("/p{`}'?q={`}'#f{`}'"), "/p%7B%60%7D'?q={`}%27#f{%60}'");
        assert_eq!(encode("/a?b?c#d#e"), "/a?b?c#d#e");
        assert_eq!(encode("/x\r\nSet-Cookie: a=1"), "/x%0D%0ASet-Cookie:%20a=1");
        assert_eq!(encode("/\u{0}\u{7f}"), "/%00%7F");
    }

    #[test]
    fn leaves_valid_urls_alone() {
        for ok in [
            "/dashboard",
            "/",
            "",
            "http://localhost:3000/api/auth/error?error=state_not_found",
            "https://accounts.example.com/o/oauth2/auth?client_id=a&scope=openid+email&state=x%2By",
            "/a/../b/./c",
            "myapp://callback?x=1",
            "http://[::1]:3000/x",
        ] {
            assert_eq!(encode(ok), ok);
        }
    }

    #[test]
    fn absolute_urls_keep_their_origin() {
        assert_eq!(
            encode("http://localhost:3000/ö?x=ü"),
            "http://localhost:3000/%C3%B6?x=%C3%BC"
        );
        assert_eq!(
            encode("https://café.example/menü"),
            "https://xn--caf-dma.example/men%C3%BC"
        );
        assert_eq!(
            encode("https://user@café.example:8443"),
            "https://user@xn--caf-dma.example:8443"
        );
        assert!(encode("http://ex ample.com/").is_ascii());
    }
}
