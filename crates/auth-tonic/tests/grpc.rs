//! A real tonic server with `AuthLayer`, called by a real tonic client over loopback: the
//! gRPC health service (`tonic-health`'s generated code), once as it is and once implemented
//! here with handlers that read the caller and apply guards.

use std::net::SocketAddr;

use auth_core::{AuthConfig, Authenticator, Guard, Verifier};
use auth_issuer::{Fault, TestIssuer};
use auth_tonic::{AuthLayer, ERROR_CODE_METADATA};
use serde::Deserialize;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{
    HealthCheckRequest, HealthCheckResponse, health_check_response::ServingStatus,
};

/// A health service whose answers depend on the caller: `service` names what to check.
struct Guarded;

#[derive(Debug, Clone, Deserialize)]
struct Extra {
    #[serde(default)]
    plan: Option<String>,
}

#[tonic::async_trait]
impl Health for Guarded {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let serving = match request.get_ref().service.as_str() {
            // Anyone with a valid credential.
            "" => true,
            // A per-method guard in the handler.
            "admin" => {
                auth_tonic::require(&request, &Guard::any_role(["admin"]))?;
                true
            }
            // The caller's subject, and the application's own claims.
            who => {
                let caller = auth_tonic::caller(&request)?;
                let claims = auth_tonic::claims::<Extra, _>(&request).await?;
                let expected = who.strip_prefix("whoami:").unwrap_or_default();
                caller.subject.as_deref() == Some(expected)
                    && claims.extra.plan.as_deref() == Some("gold")
            }
        };
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        Ok(Response::new(HealthCheckResponse {
            status: status as i32,
        }))
    }

    type WatchStream = tonic::codegen::tokio_stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("watch"))
    }
}

fn authenticator(issuer: &str, audience: &str) -> Authenticator {
    let config = AuthConfig::builder()
        .issuer(issuer)
        .audience(audience)
        .jwks_policy(
            auth_core::JwksPolicy::default()
                .fetch_timeout(std::time::Duration::from_secs(2))
                .backoff(
                    std::time::Duration::from_millis(50),
                    std::time::Duration::from_millis(200),
                ),
        )
        .build()
        .expect("config");
    Authenticator::builder(Verifier::new(config).expect("verifier"))
        .build()
        .expect("authenticator")
}

/// Serves `service` behind `layer` on a free loopback port.
async fn serve<S>(layer: AuthLayer, service: S) -> SocketAddr
where
    S: tower_service::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let incoming = tonic::codegen::tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        Server::builder()
            .layer(layer)
            .add_service(service)
            .serve_with_incoming(incoming),
    );
    addr
}

async fn connect(addr: SocketAddr) -> HealthClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    HealthClient::new(channel)
}

async fn check(
    client: &mut HealthClient<Channel>,
    service: &str,
    token: Option<&str>,
) -> Result<i32, Status> {
    let mut request = Request::new(HealthCheckRequest {
        service: service.to_owned(),
    });
    if let Some(token) = token {
        let value: MetadataValue<_> = format!("Bearer {token}").parse().expect("ascii");
        request.metadata_mut().insert("authorization", value);
    }
    client.check(request).await.map(|r| r.into_inner().status)
}

fn code_of(status: &Status) -> &str {
    status
        .metadata()
        .get(ERROR_CODE_METADATA)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

const SERVING: i32 = ServingStatus::Serving as i32;

#[tokio::test]
async fn calls_are_authenticated_guarded_and_refused_with_grpc_statuses() {
    let issuer = TestIssuer::start().await;
    let auth = authenticator(issuer.issuer(), issuer.audience());
    let addr = serve(AuthLayer::new(&auth), HealthServer::new(Guarded)).await;
    let mut client = connect(addr).await;
    let alice = issuer
        .token()
        .sub("alice")
        .roles(&["admin"])
        .claim("plan", "gold")
        .sign();
    let bob = issuer.token().sub("bob").roles(&["user"]).sign();

    let refused = check(&mut client, "", None).await.expect_err("no token");
    assert_eq!(
        (refused.code(), code_of(&refused)),
        (Code::Unauthenticated, "token_missing")
    );
    let refused = check(&mut client, "", Some("not.a.jwt"))
        .await
        .expect_err("garbage");
    assert_eq!(
        (refused.code(), code_of(&refused)),
        (Code::Unauthenticated, "token_invalid")
    );
    let expired = issuer.token().sub("alice").expires_in(-3600).sign();
    let refused = check(&mut client, "", Some(&expired))
        .await
        .expect_err("expired");
    assert_eq!(
        (refused.code(), code_of(&refused)),
        (Code::Unauthenticated, "token_expired")
    );
    assert!(
        !refused.message().contains(&expired),
        "no token in the message"
    );

    assert_eq!(
        check(&mut client, "", Some(&bob)).await.expect("bob"),
        SERVING
    );
    let denied = check(&mut client, "admin", Some(&bob))
        .await
        .expect_err("bob is no admin");
    assert_eq!(
        (denied.code(), code_of(&denied)),
        (Code::PermissionDenied, "permission_denied")
    );
    assert_eq!(
        check(&mut client, "admin", Some(&alice))
            .await
            .expect("alice"),
        SERVING
    );
    assert_eq!(
        check(&mut client, "whoami:alice", Some(&alice))
            .await
            .expect("whoami"),
        SERVING,
        "the handler saw alice and her own claims"
    );
    assert_ne!(
        check(&mut client, "whoami:alice", Some(&bob))
            .await
            .expect("whoami"),
        SERVING
    );
}

#[tokio::test]
async fn a_layer_guard_protects_a_generated_service_and_an_outage_is_unavailable() {
    let issuer = TestIssuer::start().await;
    let auth = authenticator(issuer.issuer(), issuer.audience());
    let (_, health) = tonic_health::server::health_reporter();
    let addr = serve(
        AuthLayer::new(&auth).require(Guard::any_role(["admin"])),
        health,
    )
    .await;
    let mut client = connect(addr).await;
    let admin = issuer.token().sub("alice").roles(&["admin"]).sign();
    let user = issuer.token().sub("bob").roles(&["user"]).sign();
    assert_eq!(
        check(&mut client, "", Some(&admin)).await.expect("admin"),
        SERVING
    );
    let denied = check(&mut client, "", Some(&user)).await.expect_err("user");
    assert_eq!(denied.code(), Code::PermissionDenied);

    // The provider's key set fails and the token's key is not cached: UNAVAILABLE, never
    // UNAUTHENTICATED.
    let down = TestIssuer::start().await;
    down.set_jwks_fault(Some(Fault::Status(500)));
    let auth = authenticator(down.issuer(), down.audience());
    let addr = serve(
        AuthLayer::new(&auth),
        tonic_health::server::health_reporter().1,
    )
    .await;
    let mut client = connect(addr).await;
    let token = down.token().sub("alice").sign();
    let unavailable = check(&mut client, "", Some(&token))
        .await
        .expect_err("provider down");
    assert_eq!(unavailable.code(), Code::Unavailable, "{unavailable:?}");
    assert!(unavailable.metadata().get("retry-after").is_some());
}

#[tokio::test]
async fn optional_admits_anonymous_calls_but_not_bad_tokens() {
    let issuer = TestIssuer::start().await;
    let auth = authenticator(issuer.issuer(), issuer.audience());
    let addr = serve(AuthLayer::new(&auth).optional(), HealthServer::new(Guarded)).await;
    let mut client = connect(addr).await;
    assert_eq!(
        check(&mut client, "", None).await.expect("anonymous"),
        SERVING
    );
    let refused = check(&mut client, "admin", None)
        .await
        .expect_err("the handler's guard");
    assert_eq!(
        (refused.code(), code_of(&refused)),
        (Code::Unauthenticated, "token_missing")
    );
    let refused = check(&mut client, "", Some("not.a.jwt"))
        .await
        .expect_err("a bad token is refused");
    assert_eq!(refused.code(), Code::Unauthenticated);
}
