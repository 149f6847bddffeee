//! The one list of encrypted columns. Writers, readers and key rotation all go through it,
//! so a new credential column cannot be forgotten by `rotate-key` or `clear-credentials`.

#[derive(Debug, PartialEq, Eq)]
pub struct EncryptedColumn {
    pub table: &'static str,
    pub column: &'static str,
    /// The column(s) whose value is the row key bound into the associated data. A composite
    /// key is written as the column names joined by `:` (e.g. `user_id:provider`), and its
    /// value is the column values joined the same way (`1:spotify`).
    pub row_key: &'static str,
}

pub const NAVIDROME_PASSWORD: EncryptedColumn = EncryptedColumn {
    table: "navidrome_credentials",
    column: "password_enc",
    row_key: "user_id",
};

/// The PKCE code verifier of a pending Spotify authorization.
pub const OAUTH_VERIFIER: EncryptedColumn = EncryptedColumn {
    table: "oauth_states",
    column: "verifier_enc",
    row_key: "state_hash",
};

/// Spotify access token, Last.fm session key, or ListenBrainz user token.
pub const PROVIDER_ACCESS_TOKEN: EncryptedColumn = EncryptedColumn {
    table: "provider_links",
    column: "access_token_enc",
    row_key: "user_id:provider",
};

/// Spotify refresh token.
pub const PROVIDER_REFRESH_TOKEN: EncryptedColumn = EncryptedColumn {
    table: "provider_links",
    column: "refresh_token_enc",
    row_key: "user_id:provider",
};

/// An AI provider API key entered on the AI settings page.
pub const AI_API_KEY: EncryptedColumn = EncryptedColumn {
    table: "ai_settings",
    column: "api_key_enc",
    row_key: "user_id",
};

/// Every encrypted column in the schema.
pub const ENCRYPTED_COLUMNS: &[&EncryptedColumn] = &[
    &NAVIDROME_PASSWORD,
    &OAUTH_VERIFIER,
    &PROVIDER_ACCESS_TOKEN,
    &PROVIDER_REFRESH_TOKEN,
    &AI_API_KEY,
];
