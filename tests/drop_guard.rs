//! A database keyrace created is dropped even when the code holding it panics.

mod common;

use keyrace::db::{Conn, Dialect, DropGuard};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_still_drops_the_database() {
    for dialect in Dialect::ALL {
        let url = common::url(dialect);
        let name = format!("keyrace_guardtest_{}", std::process::id());
        let mut admin = Conn::connect(dialect, &url).await.expect("connect");
        admin
            .batch(&format!("CREATE DATABASE {}", dialect.quote_ident(&name)))
            .await
            .expect("create");
        admin.close().await;
        assert!(common::database_exists(dialect, &name).await);
        let (u, n) = (url.clone(), name.clone());
        let panicked = std::thread::spawn(move || {
            let _guard = DropGuard::new(keyrace::db::Engine::default_for(dialect), &u, &n);
            panic!("a bug between CREATE DATABASE and the normal drop");
        })
        .join();
        assert!(panicked.is_err());
        assert!(
            !common::database_exists(dialect, &name).await,
            "{dialect}: {name} left behind"
        );

        // Disarmed after the normal drop: nothing more happens (and nothing is printed).
        let guard = DropGuard::new(
            keyrace::db::Engine::default_for(dialect),
            &url,
            "keyrace_guardtest_never_created",
        );
        guard.disarm();
    }
}
