//! Connection URLs: redaction for display and switching the database part.

/// Query parameters whose value is a credential, matched case-insensitively as substrings of
/// the parameter name: libpq's and sqlx's `password` and `sslpassword`, MySQL connectors'
/// `password`/`passwd`/`pwd`, and anything named like a secret or token.
const SECRET_PARAMS: &[&str] = &["password", "passwd", "pwd", "secret", "token"];

/// Replaces every credential in a connection URL with `***`: the password of
/// `scheme://user:password@host/...` (also when it holds unencoded `/`, `?`, `#` or `@`),
/// and the value of query parameters such as `password=`, `sslpassword=`, `passwd=`.
///
/// URLs without a credential are returned unchanged. Used for every URL keyrace prints or
/// writes (terminal, JSON, HTML, logs, error messages), including URLs that do not parse.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return redact_query(url);
    };
    let head = &url[..scheme_end + 3];
    let rest = &url[scheme_end + 3..];
    // The user part ends at the last '@' before the query; a password with an unencoded
    // '?' puts that '@' after the first '?', so fall back to the last '@' overall.
    let query_start = rest.find('?').unwrap_or(rest.len());
    let at = rest[..query_start].rfind('@').or_else(|| rest.rfind('@'));
    let (userinfo, after) = match at {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let user = match userinfo {
        Some(u) => match u.find(':') {
            Some(colon) => format!("{}:***@", &u[..colon]),
            None => format!("{u}@"),
        },
        None => {
            // No '@': `user:secret` cut off from its host (a list split at a comma in the
            // password) looks like `host:port` with a port that is not a number.
            let authority = &after[..after.find(['/', '?', '#']).unwrap_or(after.len())];
            if let Some((first, port)) = authority.rsplit_once(':')
                && !port.bytes().all(|b| b.is_ascii_digit())
                && !authority.contains(['[', ']'])
            {
                let first = first.split(':').next().unwrap_or(first);
                return format!(
                    "{head}{first}:***{}",
                    redact_query(&after[authority.len()..])
                );
            }
            String::new()
        }
    };
    format!("{head}{user}{}", redact_query(after))
}

/// Replaces the values of credential query parameters ([`SECRET_PARAMS`]) in `s`.
fn redact_query(s: &str) -> String {
    let Some(q) = s.find('?') else {
        return s.to_string();
    };
    let (base, query) = (&s[..q], &s[q + 1..]);
    let (query, fragment) = match query.find('#') {
        Some(h) => (&query[..h], &query[h..]),
        None => (query, ""),
    };
    let params: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if is_secret_param(k) => format!("{k}=***"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{base}?{}{fragment}", params.join("&"))
}

fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|p| name.contains(p))
}

/// Every credential `url` carries in clear (the user part's password and credential query
/// parameters, raw and percent-decoded), for scrubbing them out of any text that may quote
/// the URL, such as a driver's error message. Empty when the URL has none.
pub fn url_secrets(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let query_start = rest.find('?').unwrap_or(rest.len());
    if let Some(at) = rest[..query_start].rfind('@').or_else(|| rest.rfind('@'))
        && let Some((_, pw)) = rest[..at].split_once(':')
    {
        out.push(pw.to_string());
    }
    if let Some(q) = rest.find('?') {
        for kv in rest[q + 1..].split(['&', '#']) {
            if let Some((k, v)) = kv.split_once('=')
                && is_secret_param(k)
            {
                out.push(v.to_string());
            }
        }
    }
    let decoded: Vec<String> = out.iter().map(|s| percent_decode(s)).collect();
    out.extend(decoded);
    out.retain(|s| s.len() >= 2);
    out.sort();
    out.dedup();
    out
}

/// Replaces every credential of `url` ([`url_secrets`]) that occurs in `text` with `***`.
pub fn scrub_secrets(text: &str, url: &str) -> String {
    let mut text = text.to_string();
    let mut secrets = url_secrets(url);
    // Longest first, so that a secret containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in secrets {
        text = text.replace(&s, "***");
    }
    text
}

/// Percent-decodes a URL component (invalid escapes are kept as they are).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Returns `url` with its database (path) replaced by `database`, keeping the query string.
pub fn database_url(url: &str, database: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    let query = rest.find('?').map(|q| &rest[q..]).unwrap_or("");
    let before_query = &rest[..rest.len() - query.len()];
    let authority = before_query.split('/').next().unwrap_or("");
    format!("{}{}/{}{}", &url[..rest_start], authority, database, query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact_url("mysql://root@127.0.0.1:3306/test"),
            "mysql://root@127.0.0.1:3306/test"
        );
        assert!(!redact_url("mysql://a:p%40ss@h/x?ssl-mode=disabled").contains("p%40ss"));
    }

    #[test]
    fn redacts_every_credential_form() {
        let cases = [
            ("postgres://u@h:5/db?password=hunter2", "hunter2"),
            (
                "postgres://u@h:5/db?sslmode=disable&PassWord=hunter2",
                "hunter2",
            ),
            ("postgres://u@h:5/db?sslpassword=hunter2&x=1", "hunter2"),
            ("postgres://u:pa/ss@h:5/db", "pa/ss"),
            ("postgres://u:pa?ss@h:5/db", "pa?ss"),
            ("postgres://u:p@ss@h:5/db", "p@ss"),
            ("postgres://u:pa#ss@h:5/db", "pa#ss"),
            (
                "mysql://root:hunter2@127.0.0.1:3306/test?ssl-mode=disabled",
                "hunter2",
            ),
            ("mysql://root@h/test?pwd=hunter2#frag", "hunter2"),
            ("not a url ?password=hunter2", "hunter2"),
            ("postgres://u:hunter2@", "hunter2"),
            ("postgres://u:hun", "hun"),
        ];
        for (url, secret) in cases {
            let shown = redact_url(url);
            assert!(!shown.contains(secret), "{url} shown as {shown}");
            assert!(shown.contains("***"), "{url} shown as {shown}");
        }
        assert_eq!(
            redact_url("postgres://u:pa/ss@h:5/db?sslmode=disable"),
            "postgres://u:***@h:5/db?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgres://u@h:5/db?password=x&sslmode=disable"),
            "postgres://u@h:5/db?password=***&sslmode=disable"
        );
    }

    #[test]
    fn scrubs_secrets_from_messages() {
        let url = "postgres://u:p%2Fss@h/db?sslpassword=topsecret";
        let msg = "could not connect with p/ss, p%2Fss and topsecret";
        let clean = scrub_secrets(msg, url);
        assert!(
            !clean.contains("p/ss") && !clean.contains("p%2Fss") && !clean.contains("topsecret"),
            "{clean}"
        );
    }

    #[test]
    fn swaps_database() {
        assert_eq!(
            database_url("postgres://u@h:1/test", "k_1"),
            "postgres://u@h:1/k_1"
        );
        assert_eq!(database_url("mysql://u@h:1", "k_1"), "mysql://u@h:1/k_1");
        assert_eq!(database_url("mysql://u@h/x?a=b", "k"), "mysql://u@h/k?a=b");
    }
}
