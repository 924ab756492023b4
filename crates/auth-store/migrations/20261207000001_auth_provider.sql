-- The OAuth provider's state (auth-provider's ProviderStore). Codes, refresh tokens and opaque
-- access tokens by their SHA-256 only; client secrets only as hashes inside `metadata`.
CREATE TABLE auth_provider_clients (
    client_id TEXT PRIMARY KEY NOT NULL,
    metadata TEXT NOT NULL
);
CREATE TABLE auth_provider_authorizations (
    id TEXT PRIMARY KEY NOT NULL,
    sub TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    resources TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX auth_provider_authorizations_sub ON auth_provider_authorizations (sub);
CREATE TABLE auth_provider_codes (
    hash TEXT PRIMARY KEY NOT NULL,
    authorization_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    nonce TEXT,
    expires_at BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE auth_provider_refresh_tokens (
    hash TEXT PRIMARY KEY NOT NULL,
    authorization_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX auth_provider_refresh_tokens_authorization ON auth_provider_refresh_tokens (authorization_id);
CREATE TABLE auth_provider_access_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    authorization_id TEXT,
    client_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE,
    opaque_hash TEXT UNIQUE,
    claims TEXT
);
CREATE INDEX auth_provider_access_tokens_authorization ON auth_provider_access_tokens (authorization_id);
CREATE TABLE auth_provider_consents (
    sub TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    resources TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (sub, client_id)
);
CREATE TABLE auth_provider_once (
    key TEXT PRIMARY KEY NOT NULL,
    until BIGINT NOT NULL
);
