//! Connection URLs: redaction for display and switching the database part.

/// Replaces the password of a `scheme://user:password@host/...` URL with `***`.
///
/// URLs without a password are returned unchanged. Used for every URL keyrace prints or
/// writes to a results file.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}://{}:***@{}",
            &url[..scheme_end],
            &userinfo[..colon],
            &rest[at + 1..]
        ),
        None => url.to_string(),
    }
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
    fn swaps_database() {
        assert_eq!(
            database_url("postgres://u@h:1/test", "k_1"),
            "postgres://u@h:1/k_1"
        );
        assert_eq!(database_url("mysql://u@h:1", "k_1"), "mysql://u@h:1/k_1");
        assert_eq!(database_url("mysql://u@h/x?a=b", "k"), "mysql://u@h/k?a=b");
    }
}
