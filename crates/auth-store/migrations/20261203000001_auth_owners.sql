-- Resource owners: one owner per (kind, resource_id), set once by the first claim.
CREATE TABLE auth_owners (
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, resource_id)
);
CREATE INDEX auth_owners_owner ON auth_owners (kind, owner);
