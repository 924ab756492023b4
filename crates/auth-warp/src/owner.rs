//! [`owned`]: the filter that lets only a resource's owner through.

use auth_core::adapter::RequestAuth;
use auth_core::owner::{Access, AccessMode, Ownership};
use auth_core::{AuthError, ErrorCode};
use warp::Filter;
use warp::reject::Rejection;

use crate::filters::request_auth;
use crate::rejection::AuthRejection;
use crate::view::{WarpView, view};

/// Takes the last path segment as the id of a resource under `ownership` (percent-decoded, as
/// axum and actix-web do; a longer path does not match, so that nothing is claimed for a path
/// that no route serves) and admits the request only when the rule allows it, in the mode of
/// the request's method ([`AccessMode::for_method`]: `GET` reads, `PUT`/`POST` claim a free
/// resource or rewrite the caller's own, `PATCH`/`DELETE` write). It extracts the
/// [`Access`]: `created()` for a 201, `is_unowned()` for a 404. Without a credential it
/// rejects with 401, for someone else's resource with 403 `permission_denied` (rendered by
/// [`recover`](crate::recover)). It needs the [`AuthLayer`](crate::AuthLayer). Put the method
/// filter before it: a `PUT` claims the resource as this filter runs.
///
/// ```
/// use std::sync::Arc;
/// use auth_warp::auth_core::owner::{Access, MemoryOwnerStore, Ownership};
/// use warp::Filter;
///
/// # fn demo() -> Result<(), auth_warp::auth_core::ConfigError> {
/// let notes = Ownership::builder(Arc::new(MemoryOwnerStore::new()), "notes").build()?;
/// let put_note = warp::put()
///     .and(warp::path!("api" / "notes" / ..))
///     .and(auth_warp::owned(notes))
///     .and(warp::body::bytes())
///     .map(|access: Access, _body: hyper::body::Bytes| {
///         // ... store the body as note `access.id` ...
///         let status = if access.created() { 201 } else { 200 };
///         warp::reply::with_status("", warp::http::StatusCode::from_u16(status).unwrap_or_default())
///     })
///     .recover(auth_warp::recover);
/// # let _ = put_note;
/// # Ok(()) }
/// ```
#[must_use]
pub fn owned(ownership: Ownership) -> impl Filter<Extract = (Access,), Error = Rejection> + Clone {
    decide(ownership, None)
}

/// Like [`owned`], in `mode` whatever the method (for a `POST` that only changes an existing
/// resource, [`AccessMode::Write`]).
#[must_use]
pub fn owned_in(
    ownership: Ownership,
    mode: AccessMode,
) -> impl Filter<Extract = (Access,), Error = Rejection> + Clone {
    decide(ownership, Some(mode))
}

fn decide(
    ownership: Ownership,
    mode: Option<AccessMode>,
) -> impl Filter<Extract = (Access,), Error = Rejection> + Clone {
    warp::path::param::<String>()
        .and(warp::path::end())
        .and(request_auth())
        .and(view())
        .and_then(move |segment: String, auth: RequestAuth, view: WarpView| {
            let ownership = ownership.clone();
            async move {
                let id = percent_encoding::percent_decode_str(&segment)
                    .decode_utf8()
                    .map_err(|_| {
                        AuthRejection::from(AuthError::new(
                            ErrorCode::InvalidRequest,
                            "the resource id is not UTF-8",
                        ))
                    })?;
                auth.owned(&view, &ownership, &id, mode)
                    .await
                    .map_err(|error| Rejection::from(AuthRejection::from(error)))
            }
        })
}
