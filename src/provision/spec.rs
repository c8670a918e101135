//! Where a server should come from: the `--postgres`/`--mysql` spec and its parser.

use crate::db::Dialect;

use super::ProvisionError;

/// Where the server for one dialect comes from.
///
/// Parsed from the CLI (`--postgres SPEC`, `--mysql SPEC`) by [`ServerSpec::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSpec {
    /// A URL if one is given, else Docker if an engine answers, else local binaries.
    Auto,
    /// A server the user runs, e.g. `postgres://u:p@host:5432/db`, `mysql://root@127.0.0.1:3306/test`.
    Url(String),
    /// A throwaway server started from the installed binaries (initdb + postgres,
    /// mariadb-install-db + mariadbd, or mysqld --initialize-insecure).
    Local,
    /// A throwaway multi-primary MariaDB Galera cluster of `nodes` nodes on 127.0.0.1
    /// (`galera` or `galera:N`, N from 2 to 9, default 3; MySQL only).
    Galera {
        /// How many nodes.
        nodes: u8,
    },
    /// A throwaway PostgreSQL server of one major version (`local:17`), from binaries found
    /// as `provision::find_pg_major` says (Debian layout, `$KEYRACE_PG_BIN_DIRS`, keyrace's
    /// cache).
    LocalMajor(u32),
    /// A throwaway container, e.g. `postgres:17`, `mysql:8.4`, `mariadb:11.4`.
    Docker {
        /// Image name, e.g. `postgres`, `mysql`, `mariadb`.
        image: String,
        /// Image tag, e.g. `17`, `8.4`, `11.4`.
        tag: String,
    },
}

impl ServerSpec {
    /// The image and tag used by a bare `docker` spec: `postgres:15` or `mariadb:10.11`
    /// (the versions this project's CI machine runs locally).
    pub fn default_docker(dialect: Dialect) -> ServerSpec {
        let (image, tag) = match dialect {
            Dialect::Postgres => ("postgres", "15"),
            Dialect::Mysql => ("mariadb", "10.11"),
        };
        ServerSpec::Docker {
            image: image.into(),
            tag: tag.into(),
        }
    }

    /// Parses a spec: `auto`, `local`, `local:MAJOR` (PostgreSQL only, MAJOR from 10, e.g.
    /// `local:13`), `docker` (default image by dialect), `docker:IMAGE:TAG`
    /// (e.g. `docker:postgres:17`, `docker:mysql:8.4`; a missing tag means `latest`), or a URL
    /// (`postgres://`/`postgresql://` for PostgreSQL; `mysql://`/`mariadb://` for MySQL, where
    /// `mariadb://` is normalized to `mysql://`).
    ///
    /// `galera` or `galera:N` (N from 2 to 9) asks for a throwaway MariaDB Galera cluster
    /// (MySQL only).
    ///
    /// Errors: [`ProvisionError::BadSpec`] for anything else, including a URL of the other
    /// dialect; [`ProvisionError::BadGaleraSpec`] for a bad node count or `galera` given for
    /// PostgreSQL.
    pub fn parse(dialect: Dialect, s: &str) -> Result<ServerSpec, ProvisionError> {
        let bad = || ProvisionError::BadSpec {
            dialect,
            spec: crate::db::redact_url(s),
            scheme: match dialect {
                Dialect::Postgres => "postgres",
                Dialect::Mysql => "mysql",
            },
        };
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "auto" => return Ok(ServerSpec::Auto),
            "local" => return Ok(ServerSpec::Local),
            "docker" => return Ok(ServerSpec::default_docker(dialect)),
            _ => {}
        }
        let lower = t.to_ascii_lowercase();
        if lower == "galera" || lower.starts_with("galera:") {
            return parse_galera(dialect, t);
        }
        if let Some((scheme, rest)) = t.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            return match (dialect, scheme.as_str()) {
                (Dialect::Postgres, "postgres" | "postgresql") if !rest.is_empty() => {
                    Ok(ServerSpec::Url(t.to_string()))
                }
                (Dialect::Mysql, "mysql") if !rest.is_empty() => Ok(ServerSpec::Url(t.to_string())),
                (Dialect::Mysql, "mariadb") if !rest.is_empty() => {
                    Ok(ServerSpec::Url(format!("mysql://{rest}")))
                }
                _ => Err(bad()),
            };
        }
        if let Some(major) = t.to_ascii_lowercase().strip_prefix("local:") {
            return match (dialect, major.parse::<u32>()) {
                (Dialect::Postgres, Ok(m)) if m >= super::pg_bins::MIN_MAJOR => {
                    Ok(ServerSpec::LocalMajor(m))
                }
                _ => Err(bad()),
            };
        }
        if let Some(rest) = t.strip_prefix("docker:") {
            // IMAGE may contain a registry with a port (`localhost:5000/postgres:17`): the tag
            // is what follows the last ':' after the last '/'.
            let slash = rest.rfind('/').map_or(0, |i| i + 1);
            let (image, tag) = match rest[slash..].rfind(':') {
                Some(i) => (&rest[..slash + i], &rest[slash + i + 1..]),
                None => (rest, "latest"),
            };
            if image.is_empty() || tag.is_empty() || image.contains(char::is_whitespace) {
                return Err(bad());
            }
            return Ok(ServerSpec::Docker {
                image: image.to_string(),
                tag: tag.to_string(),
            });
        }
        Err(bad())
    }
}

/// `galera` / `galera:N` for MySQL.
fn parse_galera(dialect: Dialect, t: &str) -> Result<ServerSpec, ProvisionError> {
    use super::local_galera::{GALERA_DEFAULT_NODES, GALERA_NODES};
    let bad = |reason: String| ProvisionError::BadGaleraSpec {
        dialect,
        spec: t.to_string(),
        reason,
    };
    if dialect != Dialect::Mysql {
        return Err(bad(
            "a galera cluster is MariaDB: use --mysql galera:N".into()
        ));
    }
    let nodes = match t.split_once(':') {
        None => GALERA_DEFAULT_NODES,
        Some((_, n)) => n
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|n| GALERA_NODES.contains(n))
            .ok_or_else(|| {
                bad(format!(
                    "the node count must be a number from {} to {}",
                    GALERA_NODES.start(),
                    GALERA_NODES.end()
                ))
            })?,
    };
    Ok(ServerSpec::Galera { nodes })
}

impl std::fmt::Display for ServerSpec {
    /// The spec in the form [`ServerSpec::parse`] accepts, with any URL password redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerSpec::Auto => f.write_str("auto"),
            ServerSpec::Local => f.write_str("local"),
            ServerSpec::Galera { nodes } => write!(f, "galera:{nodes}"),
            ServerSpec::LocalMajor(m) => write!(f, "local:{m}"),
            ServerSpec::Url(u) => f.write_str(&crate::db::redact_url(u)),
            ServerSpec::Docker { image, tag } => write!(f, "docker:{image}:{tag}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keywords_and_docker() {
        assert_eq!(
            ServerSpec::parse(Dialect::Postgres, "auto").unwrap(),
            ServerSpec::Auto
        );
        assert_eq!(
            ServerSpec::parse(Dialect::Mysql, "LOCAL").unwrap(),
            ServerSpec::Local
        );
        assert_eq!(
            ServerSpec::parse(Dialect::Postgres, "docker").unwrap(),
            ServerSpec::Docker {
                image: "postgres".into(),
                tag: "15".into()
            }
        );
        assert_eq!(
            ServerSpec::parse(Dialect::Mysql, "docker").unwrap(),
            ServerSpec::Docker {
                image: "mariadb".into(),
                tag: "10.11".into()
            }
        );
        assert_eq!(
            ServerSpec::parse(Dialect::Mysql, "docker:mysql:8.4").unwrap(),
            ServerSpec::Docker {
                image: "mysql".into(),
                tag: "8.4".into()
            }
        );
        assert_eq!(
            ServerSpec::parse(Dialect::Postgres, "docker:localhost:5000/pg").unwrap(),
            ServerSpec::Docker {
                image: "localhost:5000/pg".into(),
                tag: "latest".into()
            }
        );
        assert!(ServerSpec::parse(Dialect::Postgres, "docker::17").is_err());
        assert!(ServerSpec::parse(Dialect::Postgres, "docker:postgres:").is_err());
    }

    #[test]
    fn parses_local_major_for_postgres_only() {
        assert_eq!(
            ServerSpec::parse(Dialect::Postgres, "local:13").unwrap(),
            ServerSpec::LocalMajor(13)
        );
        assert_eq!(
            ServerSpec::parse(Dialect::Postgres, " Local:18 ").unwrap(),
            ServerSpec::LocalMajor(18)
        );
        for bad in ["local:", "local:9", "local:x", "local:17.2", "local:-1"] {
            assert!(ServerSpec::parse(Dialect::Postgres, bad).is_err(), "{bad}");
        }
        assert!(ServerSpec::parse(Dialect::Mysql, "local:17").is_err());
    }

    #[test]
    fn parses_urls_by_dialect() {
        assert_eq!(
            ServerSpec::parse(Dialect::Mysql, "mariadb://root@h:3306/x").unwrap(),
            ServerSpec::Url("mysql://root@h:3306/x".into())
        );
        assert_eq!(
            ServerSpec::parse(Dialect::Postgres, "postgresql://u@h/db").unwrap(),
            ServerSpec::Url("postgresql://u@h/db".into())
        );
        assert!(ServerSpec::parse(Dialect::Postgres, "mysql://root@h/x").is_err());
        assert!(ServerSpec::parse(Dialect::Mysql, "postgres://u@h/x").is_err());
        assert!(ServerSpec::parse(Dialect::Mysql, "nonsense").is_err());
    }

    #[test]
    fn parses_galera() {
        let g = |s| ServerSpec::parse(Dialect::Mysql, s);
        assert_eq!(g("galera").unwrap(), ServerSpec::Galera { nodes: 3 });
        assert_eq!(g("galera:2").unwrap(), ServerSpec::Galera { nodes: 2 });
        assert_eq!(g("GALERA:9").unwrap(), ServerSpec::Galera { nodes: 9 });
        for bad in ["galera:1", "galera:10", "galera:x", "galera:"] {
            assert!(g(bad).is_err(), "{bad}");
        }
        assert!(ServerSpec::parse(Dialect::Postgres, "galera:3").is_err());
    }

    #[test]
    fn bad_spec_error_hides_password() {
        let e = ServerSpec::parse(Dialect::Mysql, "postgres://u:secret@h/x").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "auto",
            "local",
            "docker:mysql:8.4",
            "postgres://u@h:1/db",
            "galera:3",
            "local:17",
        ] {
            let spec = ServerSpec::parse(Dialect::Postgres, s)
                .or_else(|_| ServerSpec::parse(Dialect::Mysql, s))
                .unwrap();
            assert_eq!(spec.to_string(), s);
        }
    }
}
