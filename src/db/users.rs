use crate::db::Db;
use crate::domain::ids::UserId;

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub is_owner: bool,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

pub async fn find_by_id(db: &Db, id: UserId) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as!(
        User,
        r#"SELECT id AS "id!: UserId", username, is_owner AS "is_owner!: bool",
                  created_at, last_login_at
           FROM users WHERE id = ?1"#,
        id
    )
    .fetch_optional(db)
    .await
}

pub async fn find_owner(db: &Db) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as!(
        User,
        r#"SELECT id AS "id!: UserId", username, is_owner AS "is_owner!: bool",
                  created_at, last_login_at
           FROM users WHERE is_owner = 1"#
    )
    .fetch_optional(db)
    .await
}

/// Record a successful login: insert the user if new (as owner when `make_owner`), stamp the
/// login time. Runs inside the caller's transaction.
pub async fn upsert_login(
    tx: &mut sqlx::SqliteConnection,
    username: &str,
    make_owner: bool,
    t: i64,
) -> Result<UserId, sqlx::Error> {
    let owner = i64::from(make_owner);
    let id = sqlx::query_scalar!(
        r#"INSERT INTO users (username, is_owner, created_at, last_login_at)
           VALUES (?1, ?2, ?3, ?3)
           ON CONFLICT(username) DO UPDATE SET last_login_at = excluded.last_login_at,
                is_owner = MAX(users.is_owner, excluded.is_owner)
           RETURNING id AS "id!: UserId""#,
        username,
        owner,
        t
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(id)
}
