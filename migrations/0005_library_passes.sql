-- Catalogue import bookkeeping: every started pass gets a fresh number (a failed pass must not
-- reuse its number, or rows it saw would escape the next complete pass's deletion), and when
-- the last check ran (also when it found the library unchanged).
ALTER TABLE library_state ADD COLUMN started_pass INTEGER NOT NULL DEFAULT 0;
ALTER TABLE library_state ADD COLUMN checked_at INTEGER;
