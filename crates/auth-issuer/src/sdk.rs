//! With the `auth-core` feature: an SDK [`Authenticator`] that trusts this issuer.

use auth_core::session::{SessionConfig, SessionConfigBuilder};
use auth_core::{AuthConfig, AuthConfigBuilder, Authenticator, Verifier};

use crate::TestIssuer;

/// The cookie secret of the authenticators built here: fixed, so that an app rebuilt in the
/// same test keeps accepting its cookies. For tests only.
const TEST_COOKIE_SECRET: &str = "auth-issuer test cookie secret: never use it in production";

impl TestIssuer {
    /// An [`Authenticator`] for an app served at `app_url` (e.g. `http://127.0.0.1:3000`):
    /// bearer tokens from this issuer, and browser sign-in through the issuer's first client
    /// (by default the confidential `test-client`; register the app's callback,
    /// `{app_url}/auth/callback`, on a client of your own when it needs exact redirect URIs).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use auth_issuer::TestIssuer;
    ///
    /// let issuer = TestIssuer::start().await;
    /// let authenticator = issuer.authenticator("http://127.0.0.1:3000");
    /// // ... build the app with it, then call it with `issuer.token().sign()` ...
    /// # let _ = authenticator;
    /// # }
    /// ```
    ///
    /// # Panics
    /// If `app_url` is not an absolute `http` or `https` URL.
    #[must_use]
    pub fn authenticator(&self, app_url: &str) -> Authenticator {
        let sessions = self
            .session_config(app_url)
            .build()
            .unwrap_or_else(|e| panic!("auth-issuer: invalid app URL {app_url:?}: {e}"));
        ready(Authenticator::builder(self.verifier()).sessions(sessions))
    }

    /// An [`Authenticator`] for an API that accepts only bearer tokens from this issuer (no
    /// sessions, no helper routes).
    #[must_use]
    pub fn bearer_authenticator(&self) -> Authenticator {
        ready(Authenticator::builder(self.verifier()))
    }

    /// The verification settings for this issuer (its identifier and audience), to change
    /// before building a [`Verifier`].
    pub fn auth_config(&self) -> AuthConfigBuilder {
        AuthConfig::builder()
            .issuer(self.issuer())
            .audience(self.audience())
    }

    /// The session settings for an app at `app_url` that signs in through this issuer's first
    /// client, with a fixed test cookie secret.
    pub fn session_config(&self, app_url: &str) -> SessionConfigBuilder {
        let clients = crate::server::lock(&self.shared().clients);
        let client = clients.first();
        let mut builder = SessionConfig::builder(app_url).cookie_secret(TEST_COOKIE_SECRET);
        if let Some(client) = client {
            builder = builder.client_id(client.client_id());
            if let Some(secret) = client.secret() {
                builder = builder.client_secret(secret);
            }
        }
        builder
    }

    fn verifier(&self) -> Verifier {
        let config = self
            .auth_config()
            .build()
            .unwrap_or_else(|e| panic!("auth-issuer: {e}"));
        Verifier::new(config).unwrap_or_else(|e| panic!("auth-issuer: {e}"))
    }
}

fn ready(builder: auth_core::AuthenticatorBuilder) -> Authenticator {
    builder
        .build()
        .unwrap_or_else(|e| panic!("auth-issuer: cannot build the authenticator: {e}"))
}
