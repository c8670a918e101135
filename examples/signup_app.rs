//! A small sign-up service to point keyrace at (axum + sqlx, PostgreSQL or MariaDB/MySQL):
//! `POST /signup/naive` checks whether the email exists, then inserts it, and answers 500
//! when the insert hits the unique key (the race keyrace finds); `POST /signup/fixed` inserts
//! with ON CONFLICT DO NOTHING / INSERT IGNORE and answers 201 (created) or 200 (existed);
//! `POST /api/signup/naive` and `/api/signup/fixed` do the same but, like many JSON APIs,
//! always answer 200 with `{"result": "created" | "existed" | "error"}` (and `detail` for an
//! error), so only the body tells them apart; `GET /health` answers 200 once the table
//! exists; `GET /ping` answers 200 without touching the database (the cheapest endpoint, for
//! the HTTP benchmark).
//!
//! Run: `cargo run --example signup_app -- PORT DATABASE_URL`, e.g.
//! `cargo run --example signup_app -- 8080 postgres://postgres@127.0.0.1:5432/test`.
//! It creates table `users` (email primary key) if absent.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use sqlx::{MySqlPool, PgPool};

/// The application's connection pool.
#[derive(Clone)]
pub enum Db {
    /// PostgreSQL.
    Pg(PgPool),
    /// MariaDB or MySQL.
    My(MySqlPool),
}

#[derive(Deserialize)]
struct Signup {
    email: String,
    #[serde(default)]
    name: String,
}

type Reply = (StatusCode, String);

fn failed(e: sqlx::Error) -> Reply {
    // What many handlers do: any database error becomes a 500.
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("database error: {e}"),
    )
}

/// Check, then insert: two sessions can both find nothing and both insert.
async fn naive(State(db): State<Db>, Json(s): Json<Signup>) -> Reply {
    let found = match &db {
        Db::Pg(p) => {
            sqlx::query_scalar::<_, String>("SELECT email FROM users WHERE email = $1")
                .bind(&s.email)
                .fetch_optional(p)
                .await
        }
        Db::My(p) => {
            sqlx::query_scalar::<_, String>("SELECT email FROM users WHERE email = ?")
                .bind(&s.email)
                .fetch_optional(p)
                .await
        }
    };
    match found {
        Err(e) => return failed(e),
        Ok(Some(_)) => return (StatusCode::OK, "existed".into()),
        Ok(None) => {}
    }
    let inserted = match &db {
        Db::Pg(p) => sqlx::query("INSERT INTO users (email, name) VALUES ($1, $2)")
            .bind(&s.email)
            .bind(&s.name)
            .execute(p)
            .await
            .map(|_| ()),
        Db::My(p) => sqlx::query("INSERT INTO users (email, name) VALUES (?, ?)")
            .bind(&s.email)
            .bind(&s.name)
            .execute(p)
            .await
            .map(|_| ()),
    };
    match inserted {
        Ok(()) => (StatusCode::CREATED, "created".into()),
        Err(e) => failed(e),
    }
}

/// One atomic statement: the unique key decides, a duplicate is a no-op.
async fn fixed(State(db): State<Db>, Json(s): Json<Signup>) -> Reply {
    let n = match &db {
        Db::Pg(p) => {
            sqlx::query("INSERT INTO users (email, name) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(&s.email)
                .bind(&s.name)
                .execute(p)
                .await
                .map(|r| r.rows_affected())
        }
        Db::My(p) => sqlx::query("INSERT IGNORE INTO users (email, name) VALUES (?, ?)")
            .bind(&s.email)
            .bind(&s.name)
            .execute(p)
            .await
            .map(|r| r.rows_affected()),
    };
    match n {
        Ok(1) => (StatusCode::CREATED, "created".into()),
        Ok(_) => (StatusCode::OK, "existed".into()),
        Err(e) => failed(e),
    }
}

/// A reply as a JSON API gives it: always 200, the result in the body.
fn as_json((status, text): Reply) -> Json<serde_json::Value> {
    Json(match status {
        StatusCode::CREATED => serde_json::json!({ "result": "created" }),
        StatusCode::OK => serde_json::json!({ "result": "existed" }),
        _ => serde_json::json!({ "result": "error", "detail": text }),
    })
}

async fn naive_json(db: State<Db>, s: Json<Signup>) -> Json<serde_json::Value> {
    as_json(naive(db, s).await)
}

async fn fixed_json(db: State<Db>, s: Json<Signup>) -> Json<serde_json::Value> {
    as_json(fixed(db, s).await)
}

const SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS users (email VARCHAR(255) PRIMARY KEY, name VARCHAR(255))";

/// Connects to `url` (PostgreSQL, or MariaDB/MySQL) and creates table `users` if absent.
pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
    Ok(if url.starts_with("postgres") {
        let p = sqlx::postgres::PgPoolOptions::new()
            .max_connections(32)
            .connect(url)
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&p).await?;
        Db::Pg(p)
    } else {
        let p = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(32)
            .connect(&url.replacen("mariadb://", "mysql://", 1))
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&p).await?;
        Db::My(p)
    })
}

/// The service's routes on `db`.
pub fn router(db: Db) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ping", get(|| async { "pong" }))
        .route("/signup/naive", post(naive))
        .route("/signup/fixed", post(fixed))
        .route("/api/signup/naive", post(naive_json))
        .route("/api/signup/fixed", post(fixed_json))
        .with_state(db)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: signup_app PORT DATABASE_URL";
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let url = args.next().ok_or(usage)?;
    let db = connect(&url).await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("signup_app listening on 127.0.0.1:{port}");
    axum::serve(listener, router(db)).await?;
    Ok(())
}
