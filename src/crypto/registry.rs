//! The one list of encrypted columns. Writers, readers and key rotation all go through it,
//! so a new credential column cannot be forgotten by `rotate-key` or `clear-credentials`.

#[derive(Debug, PartialEq, Eq)]
pub struct EncryptedColumn {
    pub table: &'static str,
    pub column: &'static str,
    /// The column whose value is the row key bound into the associated data.
    pub row_key: &'static str,
}

pub const NAVIDROME_PASSWORD: EncryptedColumn = EncryptedColumn {
    table: "navidrome_credentials",
    column: "password_enc",
    row_key: "user_id",
};

/// Every encrypted column in the schema.
pub const ENCRYPTED_COLUMNS: &[&EncryptedColumn] = &[&NAVIDROME_PASSWORD];
