//! The neutral handler mounted in actix-web and warp, as docs/provider.md shows it, over real
//! HTTP: discovery, a whole code flow, a refusal with its challenge, and an oversized body.

use std::net::SocketAddr;

use auth_provider::{
    Authentication, AuthorizeContext, BoxFuture, Client, KeySpec, MAX_BODY, Provider,
    ProviderRequest, SignedIn, SigningKey, StoreError, UserClaims, Users,
};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const REDIRECT: &str = "http://127.0.0.1:9/cb";

/// Everyone is alice.
#[derive(Debug)]
struct Alice;

impl Users for Alice {
    fn authenticate<'a>(&'a self, _: &'a AuthorizeContext<'a>) -> BoxFuture<'a, Authentication> {
        Box::pin(async { Authentication::SignedIn(SignedIn::new("alice")) })
    }

    fn claims<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<UserClaims>, StoreError>> {
        Box::pin(async { Ok(Some(UserClaims::new().name("Alice"))) })
    }
}

async fn provider(addr: SocketAddr) -> Provider {
    Provider::builder(format!("http://{addr}"))
        .key(SigningKey::generate(KeySpec::Ed25519, "k"))
        .users(Alice)
        .secret_hash_iterations(1_000)
        .client(
            Client::confidential("app", "app-secret-0123456789")
                .redirect_uri(REDIRECT)
                .first_party(true),
        )
        .build()
        .await
        .expect("build")
}

/// What every mounting must answer alike.
async fn check(base: &str) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let discovery: Value = http
        .get(format!("{base}/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("JSON");
    assert_eq!(discovery["issuer"], base);
    let challenge = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, VERIFIER.as_bytes()));
    let authorize = url::Url::parse_with_params(
        &format!("{base}/authorize"),
        [
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .expect("URL");
    let response = http.get(authorize).send().await.expect("authorize");
    assert_eq!(response.status(), 302);
    let location =
        url::Url::parse(response.headers()["location"].to_str().expect("ASCII")).expect("absolute");
    let code = location
        .query_pairs()
        .find(|(name, _)| name == "code")
        .expect("a code")
        .1
        .into_owned();
    let tokens = http
        .post(format!("{base}/token"))
        .basic_auth("app", Some("app-secret-0123456789"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(tokens.status(), 200);
    assert_eq!(tokens.headers()["cache-control"], "no-store");
    let tokens: Value = tokens.json().await.expect("JSON");
    assert!(tokens["id_token"].is_string());
    let refused = http
        .post(format!("{base}/token"))
        .basic_auth("app", Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token");
    assert_eq!(refused.status(), 401);
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .expect("ASCII")
            .starts_with("Basic")
    );
    let oversized = http
        .post(format!("{base}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; MAX_BODY + 1])
        .send()
        .await
        .expect("token");
    assert_eq!(oversized.status(), 413);
}

#[test]
fn mounted_in_actix_web() {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, http::StatusCode, web};

    async fn endpoint(
        provider: web::Data<Provider>,
        req: HttpRequest,
        body: web::Bytes,
    ) -> HttpResponse {
        let target = req
            .uri()
            .path_and_query()
            .map_or(req.path(), |pq| pq.as_str());
        let mut request = ProviderRequest::new(req.method().as_str(), target);
        for (name, value) in req.headers() {
            if let Ok(value) = value.to_str() {
                request = request.header(name.as_str(), value);
            }
        }
        let (status, headers, body) = provider
            .handle(request.body(body.to_vec()))
            .await
            .into_parts();
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = HttpResponse::build(status);
        for (name, value) in headers {
            response.append_header((name, value));
        }
        response.body(body)
    }

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let provider = runtime.block_on(provider(addr));
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(provider.clone()))
                    .app_data(web::PayloadConfig::new(MAX_BODY))
                    .default_service(web::to(endpoint))
            })
            .workers(1)
            .listen(listener)
            .expect("listen")
            .run();
            handle_tx.send(server.handle()).expect("send the handle");
            server.await
        })
    });
    let handle = handle_rx.recv().expect("the server starts");
    runtime.block_on(check(&format!("http://{addr}")));
    runtime.block_on(handle.stop(true));
    server.join().expect("joined").expect("stopped");
}

#[tokio::test]
async fn mounted_in_warp() {
    use warp::Filter;
    use warp::http::{HeaderMap, Method, Response};
    use warp::path::FullPath;

    type Reply = Response<Vec<u8>>;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let provider = provider(addr).await;
    let routes = warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            move |method: Method, path: FullPath, query: String, headers: HeaderMap, body| {
                let provider = provider.clone();
                async move {
                    let status = |code: u16| -> Reply {
                        Response::builder()
                            .status(code)
                            .body(Vec::new())
                            .expect("a valid status")
                    };
                    let bytes = match read_capped(body).await {
                        Ok(bytes) => bytes,
                        Err(code) => return status(code),
                    };
                    let target = match query.as_str() {
                        "" => path.as_str().to_owned(),
                        query => format!("{}?{query}", path.as_str()),
                    };
                    let mut request = ProviderRequest::new(method.as_str(), &target);
                    for (name, value) in &headers {
                        if let Ok(value) = value.to_str() {
                            request = request.header(name.as_str(), value);
                        }
                    }
                    let (code, headers, body) =
                        provider.handle(request.body(bytes)).await.into_parts();
                    let mut response = Response::builder().status(code);
                    for (name, value) in headers {
                        response = response.header(name, value);
                    }
                    response.body(body).unwrap_or_else(|_| status(500))
                }
            },
        );
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    check(&format!("http://{addr}")).await;
}

/// The body, at most `MAX_BODY` bytes (`Err(413)` above, `Err(400)` if it breaks off).
async fn read_capped<S, B>(body: S) -> Result<Vec<u8>, u16>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: warp::Buf,
{
    use futures_util::TryStreamExt as _;
    let mut bytes = Vec::new();
    let mut body = std::pin::pin!(body);
    loop {
        match body.try_next().await {
            Ok(Some(mut chunk)) if bytes.len() + chunk.remaining() <= MAX_BODY => {
                bytes.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
            }
            Ok(Some(_)) => return Err(413),
            Ok(None) => return Ok(bytes),
            Err(_) => return Err(400),
        }
    }
}
