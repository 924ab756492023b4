//! One suite, three apps: every scenario of `http_flows` and `journey` runs against the axum,
//! actix-web and warp example apps over real HTTP, each with its embedded issuer; `parity`
//! compares what the three answer, byte for byte where it matters. Any difference fails.

#![allow(unreachable_pub, missing_docs, dead_code)]

mod app;
mod http_flows;
mod issuers;
mod journey;
mod notes;
mod operations;
mod parity;
mod realtime;
mod resource_server;
mod support;

/// For each app, a module with one `#[tokio::test]` per scenario: `scenario(app)`.
macro_rules! per_app {
    ($($scenario:ident),* $(,)?) => {
        mod axum {
            $(#[tokio::test]
            async fn $scenario() {
                crate::$scenario(crate::app::start(crate::app::Kind::Axum).await).await;
            })*
        }
        mod actix {
            $(#[tokio::test]
            async fn $scenario() {
                crate::$scenario(crate::app::start(crate::app::Kind::Actix).await).await;
            })*
        }
        mod warp {
            $(#[tokio::test]
            async fn $scenario() {
                crate::$scenario(crate::app::start(crate::app::Kind::Warp).await).await;
            })*
        }
    };
}
use http_flows::*;
use issuers::a_service_token_reaches_the_api;
use journey::*;
use notes::*;
use realtime::*;
use resource_server::*;

per_app!(
    a_bearer_token_reaches_the_api_with_private_caching,
    no_credential_is_401_with_a_bare_bearer_challenge,
    two_authorization_headers_are_400_invalid_request,
    the_admin_api_refuses_users_without_the_admin_role,
    refresh_rotates_the_refresh_cookie,
    a_revoked_refresh_token_signs_out_cleanly,
    an_old_refresh_cookie_within_the_grace_window_does_not_trip_reuse_detection,
    a_refresh_cookie_replayed_after_the_next_rotation_is_refused_and_trips_reuse_detection,
    sign_out_revokes_clears_and_redirects_to_the_issuer_logout,
    a_callback_without_a_flow_cookie_is_state_mismatch,
    a_replayed_callback_is_state_mismatch,
    a_duplicated_state_is_refused,
    a_callback_from_another_issuer_is_refused,
    an_api_key_and_a_jwt_reach_the_same_route,
    cross_site_posts_are_refused,
    open_redirect_targets_are_400,
    a_same_origin_return_to_is_where_sign_in_lands,
    session_cookies_are_httponly_lax_and_small,
    a_provider_outage_during_refresh_keeps_the_session,
    cancelling_on_the_login_page_returns_home_with_an_error,
    alice_signs_in_uses_the_apis_and_signs_out,
    bob_is_not_an_admin,
    a_note_belongs_to_its_first_writer,
    a_refused_note_body_does_not_take_the_id,
    cross_site_cookie_writes_to_notes_are_refused,
    a_subprotocol_token_opens_the_socket_and_only_the_real_subprotocol_is_echoed,
    a_bearer_header_opens_the_socket,
    upgrades_without_a_valid_token_are_refused_before_the_101,
    the_admin_socket_needs_the_admin_role,
    in_band_reauthentication_is_acknowledged_and_another_subject_is_closed,
    the_session_cookie_opens_the_socket_only_from_the_apps_origin,
    a_service_token_reaches_the_api,
    the_resource_metadata_is_published_and_named_in_every_challenge,
    a_client_discovers_the_issuer_from_a_401_and_its_token_reaches_the_api,
    a_dpop_bound_token_with_its_proof_reaches_the_api,
    defective_dpop_proofs_are_invalid_dpop_proof,
    bindings_that_do_not_hold_are_invalid_token,
    a_stale_sign_in_is_challenged_to_step_up,
    signing_in_with_max_age_satisfies_the_step_up_route,
    signing_in_with_acr_values_satisfies_the_step_up_route,
);

/// For each app, a module with one `#[tokio::test]` per scenario that starts its own app(s):
/// `scenario(kind)`.
macro_rules! per_kind {
    ($($module:ident :: $scenario:ident),* $(,)?) => {
        mod by_kind {
            mod axum {
                $(#[tokio::test]
                async fn $scenario() {
                    crate::$module::$scenario(crate::app::Kind::Axum).await;
                })*
            }
            mod actix {
                $(#[tokio::test]
                async fn $scenario() {
                    crate::$module::$scenario(crate::app::Kind::Actix).await;
                })*
            }
            mod warp {
                $(#[tokio::test]
                async fn $scenario() {
                    crate::$module::$scenario(crate::app::Kind::Warp).await;
                })*
            }
        }
    };
}

per_kind!(
    realtime::an_idle_socket_is_closed_with_1008_when_its_token_expires,
    issuers::a_second_trusted_issuer_reaches_the_api_and_a_third_does_not,
    notes::everything_survives_a_restart,
    operations::metrics_count_verifications_fetches_and_cache_hits,
    resource_server::dpop_nonces_are_issued_and_enforced,
);
