-- DPoP (RFC 9449) and step-up (acr) for the OAuth provider: the authentication context class and
-- methods of a sign-in, the `dpop_jkt` an authorization request named, and the DPoP key a public
-- client's refresh tokens are bound to. Existing rows: no acr, no methods, nothing bound.
ALTER TABLE auth_provider_authorizations ADD COLUMN acr TEXT;
ALTER TABLE auth_provider_authorizations ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_provider_codes ADD COLUMN dpop_jkt TEXT;
ALTER TABLE auth_provider_refresh_tokens ADD COLUMN dpop_jkt TEXT;
