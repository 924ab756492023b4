-- The example apps' notes. Who owns a note is auth-store's `auth_owners` (kind "notes").
CREATE TABLE example_notes (
    id TEXT PRIMARY KEY NOT NULL,
    text TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
