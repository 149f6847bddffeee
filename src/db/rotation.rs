//! Key rotation (S15): re-encrypt every registered column under the current key in one
//! transaction, then verify every value opens under the current key alone.
//!
//! Table and column names come only from `crypto::registry` (static strings), never from input;
//! values are bound parameters.

use sqlx::{AssertSqlSafe, Row};

use crate::crypto::registry::{ENCRYPTED_COLUMNS, EncryptedColumn};
use crate::crypto::{CryptoError, FieldCipher, FieldRef};
use crate::db::Db;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RotationReport {
    /// Values read (all registered columns, non-null).
    pub examined: u64,
    /// Values that were rewritten under the current key (v1, or the previous key).
    pub rewritten: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("database error")]
    Db(#[from] sqlx::Error),
    /// A stored value that no configured key opens. Nothing was changed.
    #[error(
        "{table}.{column}: a stored value does not decrypt with the current or previous key ({source})"
    )]
    Undecryptable {
        table: &'static str,
        column: &'static str,
        source: CryptoError,
    },
    #[error("{table}.{column}: verification after re-encryption failed")]
    Verify {
        table: &'static str,
        column: &'static str,
    },
}

/// `user_id:provider` → `CAST(user_id AS TEXT) || ':' || CAST(provider AS TEXT)`.
fn row_key_expr(col: &EncryptedColumn) -> String {
    col.row_key
        .split(':')
        .map(|c| format!("CAST({c} AS TEXT)"))
        .collect::<Vec<_>>()
        .join(" || ':' || ")
}

async fn rows(
    conn: &mut sqlx::SqliteConnection,
    col: &EncryptedColumn,
) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
    let sql = format!(
        "SELECT rowid AS rid, {key} AS rk, {c} AS v FROM {t} WHERE {c} IS NOT NULL",
        key = row_key_expr(col),
        c = col.column,
        t = col.table
    );
    let found = sqlx::query(AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await?;
    found
        .iter()
        .map(|r| Ok((r.try_get("rid")?, r.try_get("rk")?, r.try_get("v")?)))
        .collect()
}

/// Re-encrypt everything that is not already under the current key (`force` rewrites all),
/// then verify with `verifier` (a cipher holding the current key only). All or nothing.
pub async fn reencrypt_all(
    db: &Db,
    cipher: &FieldCipher,
    verifier: &FieldCipher,
    force: bool,
) -> Result<RotationReport, RotationError> {
    let mut report = RotationReport::default();
    let mut tx = crate::db::begin_write(db).await?;
    for col in ENCRYPTED_COLUMNS {
        for (rid, row_key, stored) in rows(&mut tx, col).await? {
            report.examined += 1;
            let field = FieldRef {
                column: col,
                row_key: &row_key,
            };
            let opened =
                cipher
                    .open(field, &stored)
                    .map_err(|source| RotationError::Undecryptable {
                        table: col.table,
                        column: col.column,
                        source,
                    })?;
            if !opened.needs_rewrite && !force {
                continue;
            }
            let sealed = cipher
                .seal(field, crate::crypto::expose(&opened.value))
                .map_err(|source| RotationError::Undecryptable {
                    table: col.table,
                    column: col.column,
                    source,
                })?;
            let sql = format!(
                "UPDATE {} SET {} = ?1 WHERE rowid = ?2",
                col.table, col.column
            );
            sqlx::query(AssertSqlSafe(sql))
                .bind(sealed)
                .bind(rid)
                .execute(&mut *tx)
                .await?;
            report.rewritten += 1;
        }
    }
    for col in ENCRYPTED_COLUMNS {
        for (_, row_key, stored) in rows(&mut tx, col).await? {
            let field = FieldRef {
                column: col,
                row_key: &row_key,
            };
            match verifier.open(field, &stored) {
                Ok(o) if !o.needs_rewrite => {}
                _ => {
                    return Err(RotationError::Verify {
                        table: col.table,
                        column: col.column,
                    });
                }
            }
        }
    }
    tx.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::registry::NAVIDROME_PASSWORD;

    #[test]
    fn composite_row_keys_become_sql_concatenation() {
        let c = EncryptedColumn {
            table: "t",
            column: "x_enc",
            row_key: "user_id:provider",
        };
        assert_eq!(
            row_key_expr(&c),
            "CAST(user_id AS TEXT) || ':' || CAST(provider AS TEXT)"
        );
        assert_eq!(row_key_expr(&NAVIDROME_PASSWORD), "CAST(user_id AS TEXT)");
    }

    #[test]
    fn registry_names_are_plain_identifiers() {
        // The only strings spliced into SQL: keep them to [a-z_:].
        for c in ENCRYPTED_COLUMNS {
            for s in [c.table, c.column, c.row_key] {
                assert!(
                    s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b':'),
                    "{s}"
                );
            }
        }
    }
}
