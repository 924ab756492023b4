-- API keys: the id in clear, the SHA-256 of the key, never the key.
CREATE TABLE auth_api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    hash TEXT NOT NULL,
    name TEXT NOT NULL,
    owner TEXT NOT NULL,
    tenant TEXT,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT,
    rate_limit_per_minute BIGINT
);
CREATE INDEX auth_api_keys_owner ON auth_api_keys (owner);
