//! Kinds of security events (SPEC S13).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    LoginOk,
    LoginFailed,
    LoginRefused,
    LoginRateLimited,
    LoginAccountPaused,
    Logout,
    SessionRevoked,
    SessionsRevokedOthers,
    ServiceLinked,
    ServiceUnlinked,
    ServiceBroken,
    CredentialsCleared,
    KeyRotated,
    SettingsChanged,
    PlaylistWritebackEnabled,
    PlaylistWritebackDisabled,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginOk => "login_ok",
            Self::LoginFailed => "login_failed",
            Self::LoginRefused => "login_refused",
            Self::LoginRateLimited => "login_rate_limited",
            Self::LoginAccountPaused => "login_account_paused",
            Self::Logout => "logout",
            Self::SessionRevoked => "session_revoked",
            Self::SessionsRevokedOthers => "sessions_revoked_others",
            Self::ServiceLinked => "service_linked",
            Self::ServiceUnlinked => "service_unlinked",
            Self::ServiceBroken => "service_broken",
            Self::CredentialsCleared => "credentials_cleared",
            Self::KeyRotated => "key_rotated",
            Self::SettingsChanged => "settings_changed",
            Self::PlaylistWritebackEnabled => "playlist_writeback_enabled",
            Self::PlaylistWritebackDisabled => "playlist_writeback_disabled",
        }
    }

    /// Human label for the security page.
    pub fn label(kind: &str) -> &'static str {
        match kind {
            "login_ok" => "Signed in",
            "login_failed" => "Sign-in failed",
            "login_refused" => "Sign-in refused (not the owner)",
            "login_rate_limited" => "Sign-in rate-limited",
            "login_account_paused" => "Sign-in paused for this account (too many failures)",
            "logout" => "Signed out",
            "session_revoked" => "Session revoked",
            "sessions_revoked_others" => "All other sessions revoked",
            "service_linked" => "Service linked",
            "service_unlinked" => "Service disconnected",
            "service_broken" => "Service link broken",
            "credentials_cleared" => "All credentials cleared",
            "key_rotated" => "Encryption key rotated",
            "settings_changed" => "Settings changed",
            "playlist_writeback_enabled" => "Playlist now written to Navidrome",
            "playlist_writeback_disabled" => "Playlist no longer written to Navidrome",
            _ => "Other event",
        }
    }
}
