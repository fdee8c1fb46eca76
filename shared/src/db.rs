//! Diesel on SQLite (the embedded default) or PostgreSQL, through one code path.
//!
//! The backend is chosen by the URL: `postgres://…` (or `postgresql://…`) is PostgreSQL,
//! `sqlite://path`, `sqlite:path` or a bare path is a SQLite file. Queries are written once
//! against [`DbConnection`]; only migrations exist per backend (`migrations/sqlite`,
//! `migrations/postgres`, with the same names). Migrations run when the pool is built, so a
//! service whose schema cannot be brought up to date does not start.
//!
//! Diesel blocks, so every query runs on the blocking pool through [`Db::run`], bounded by a
//! semaphore the size of the connection pool: a burst of requests waits asynchronously for a
//! permit instead of piling blocked threads onto r2d2's checkout.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use tokio::sync::Semaphore;

use crate::error::{ApiError, Code};

/// A connection to either backend; queries are written against this type.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// The backend type of [`DbConnection`], for naming boxed queries.
pub type DbBackend = MultiBackend;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A service's migrations, one set per backend.
pub struct Migrations {
    pub sqlite: EmbeddedMigrations,
    pub postgres: EmbeddedMigrations,
}

/// Where a database URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbTarget {
    pub backend: Backend,
    /// What the driver opens: the PostgreSQL URL, or the SQLite file path.
    pub target: String,
}

impl DbTarget {
    pub fn parse(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Self {
                backend: Backend::Postgres,
                target: url.to_owned(),
            };
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        Self {
            backend: Backend::Sqlite,
            target: path.to_owned(),
        }
    }
}

/// Opens connections of the backend the URL names (never guessing by trial).
#[derive(Debug)]
pub struct Manager {
    target: DbTarget,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match self.target.backend {
            Backend::Postgres => diesel::PgConnection::establish(&self.target.target)
                .map(DbConnection::Postgresql)
                .map_err(r2d2::Error::ConnectionError),
            Backend::Sqlite => {
                let mut conn = diesel::SqliteConnection::establish(&self.target.target)
                    .map_err(r2d2::Error::ConnectionError)?;
                // busy_timeout first: it makes a writer wait for a lock (switching to WAL
                // takes one) instead of failing at once. WAL lets readers proceed during
                // a write.
                for pragma in [
                    "PRAGMA busy_timeout = 5000",
                    "PRAGMA journal_mode = WAL",
                    "PRAGMA synchronous = NORMAL",
                    "PRAGMA foreign_keys = ON",
                ] {
                    diesel::sql_query(pragma)
                        .execute(&mut conn)
                        .map_err(r2d2::Error::QueryError)?;
                }
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// A pool of connections and the permits that bound blocking work on it.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    permits: Arc<Semaphore>,
    backend: Backend,
    /// Where waits and failed checkouts are counted, once the part's metrics exist.
    stats: Arc<OnceLock<crate::metrics::PoolStats>>,
}

impl Db {
    /// Builds the pool and brings the schema up to date.
    pub fn connect(url: &str, pool_size: u32, migrations: Migrations) -> anyhow::Result<Self> {
        let target = DbTarget::parse(url);
        if target.backend == Backend::Sqlite
            && let Some(dir) = Path::new(&target.target).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        let backend = target.backend;
        let manager = Manager { target };
        // Migrate on a connection of its own, before the pool opens others.
        let mut conn = manager
            .connect()
            .map_err(|err| anyhow::anyhow!("cannot open the {backend:?} database: {err}"))?;
        run_migrations(&mut conn, migrations)?;
        drop(conn);
        // r2d2 needs at least two connections for a request that holds one while another
        // part of the same request checks out a second (e.g. a nested helper).
        let size = pool_size.max(2);
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(3))
            .build(manager)
            .map_err(|err| anyhow::anyhow!("cannot open the {backend:?} database: {err}"))?;
        Ok(Self {
            pool,
            permits: Arc::new(Semaphore::new(size as usize)),
            backend,
            stats: Arc::default(),
        })
    }

    /// [`Db::connect`] on the blocking pool: opening and migrating block.
    pub async fn open(url: String, pool_size: u32, migrations: Migrations) -> anyhow::Result<Self> {
        tokio::task::spawn_blocking(move || Self::connect(&url, pool_size, migrations)).await?
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn observe(&self, stats: crate::metrics::PoolStats) {
        let _ = self.stats.set(stats);
    }

    /// Runs `work` with a connection on the blocking pool, inside the caller's span.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let started = Instant::now();
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(ApiError::internal)?;
        let (pool, stats) = (self.pool.clone(), self.stats.clone());
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _entered = span.enter();
            let conn = pool.get();
            if let Some(stats) = stats.get() {
                stats.checked_out(started, conn.is_ok());
            }
            let mut conn = conn.map_err(|err| {
                ApiError::new(Code::DatabaseUnavailable, "The database is unavailable.")
                    .with_source(err)
            })?;
            work(&mut conn)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Whether a connection can be checked out and answers.
    pub async fn ping(&self) -> bool {
        self.run(|conn| conn.ping().map_err(ApiError::from))
            .await
            .is_ok()
    }
}

fn run_migrations(conn: &mut DbConnection, migrations: Migrations) -> anyhow::Result<()> {
    let result = match conn {
        DbConnection::Sqlite(conn) => conn.immediate_transaction(|conn| {
            conn.run_pending_migrations(migrations.sqlite)
                .map(|_| ())
                .map_err(DieselError::QueryBuilderError)
        }),
        DbConnection::Postgresql(conn) => {
            // Replicas starting together must not apply the same migration twice.
            diesel::sql_query("SELECT pg_advisory_lock(727274)").execute(conn)?;
            let result = conn
                .run_pending_migrations(migrations.postgres)
                .map(|_| ())
                .map_err(DieselError::QueryBuilderError);
            diesel::sql_query("SELECT pg_advisory_unlock(727274)").execute(conn)?;
            result
        }
    };
    result.map_err(|err| anyhow::anyhow!("migrations failed: {err}"))
}

/// Inside a [`write_transaction`]: waits until no other process holds the same `lock`
/// in its transaction, so replicas starting together do one-off work (seeding) one after
/// the other. SQLite's `BEGIN IMMEDIATE` already admits one writer at a time.
pub fn fleet_lock(conn: &mut DbConnection, lock: &str) -> QueryResult<()> {
    if let DbConnection::Postgresql(conn) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind::<diesel::sql_types::Text, _>(lock)
            .execute(conn)?;
    }
    Ok(())
}

/// Runs `work` in a transaction that writes.
///
/// On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken up front, so concurrent
/// writers queue on busy_timeout instead of failing when a read lock cannot be upgraded.
/// On PostgreSQL it is an ordinary transaction.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    let DbConnection::Sqlite(inner) = conn else {
        return conn.transaction(work);
    };
    AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
    let result = work(conn);
    let DbConnection::Sqlite(inner) = conn else {
        unreachable!("the connection cannot change backend inside a transaction")
    };
    match result {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(inner)?;
            Ok(value)
        }
        Err(err) => {
            if let Err(rollback) = AnsiTransactionManager::rollback_transaction(inner) {
                tracing::error!(error = %rollback, "rollback failed");
            }
            Err(err)
        }
    }
}

impl From<DieselError> for ApiError {
    #[track_caller]
    fn from(err: DieselError) -> Self {
        match &err {
            DieselError::NotFound => ApiError::not_found("record"),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => ApiError::new(
                Code::AlreadyExists,
                "A record with these values already exists.",
            ),
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => ApiError::new(
                Code::StillReferenced,
                "The record is referenced by another record.",
            ),
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                ApiError::new(Code::DatabaseUnavailable, "The database is unavailable.")
                    .with_source(err)
            }
            DieselError::DatabaseError(_, info)
                if info.message().contains("database is locked") =>
            {
                ApiError::new(Code::DatabaseBusy, "The database is busy; retry.")
                    .with_retry_after(1)
                    .with_source(err)
            }
            _ => ApiError::internal(err),
        }
    }
}

/// Whether `err` is a unique-constraint violation (to map to a specific 409).
pub fn is_unique_violation(err: &DieselError) -> bool {
    matches!(
        err,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend_without_guessing() {
        let cases = [
            ("postgres://u@h/db", Backend::Postgres, "postgres://u@h/db"),
            (
                "postgresql://u@h/db",
                Backend::Postgres,
                "postgresql://u@h/db",
            ),
            ("sqlite://data/auth.db", Backend::Sqlite, "data/auth.db"),
            ("sqlite:data/auth.db", Backend::Sqlite, "data/auth.db"),
            ("/tmp/x.db", Backend::Sqlite, "/tmp/x.db"),
        ];
        for (url, backend, target) in cases {
            assert_eq!(
                DbTarget::parse(url),
                DbTarget {
                    backend,
                    target: target.to_owned()
                },
                "{url}"
            );
        }
    }

    #[test]
    fn sqlite_connections_get_every_pragma() {
        #[derive(QueryableByName)]
        struct Pragma {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            value: i64,
        }
        let path = std::env::temp_dir().join(format!("wp-db-{}.db", crate::random::token_hex(6)));
        let manager = Manager {
            target: DbTarget::parse(&path.display().to_string()),
        };
        let mut conn = manager.connect().unwrap();
        let pragma = |conn: &mut DbConnection, name: &str, column: &str| {
            diesel::sql_query(format!("SELECT {column} AS value FROM pragma_{name}"))
                .get_result::<Pragma>(conn)
                .unwrap()
                .value
        };
        assert_eq!(pragma(&mut conn, "busy_timeout", "timeout"), 5000);
        assert_eq!(pragma(&mut conn, "foreign_keys", "foreign_keys"), 1);
        drop(conn);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
