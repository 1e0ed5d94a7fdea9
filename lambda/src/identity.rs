//! Who is calling, behind API Gateway's JWT authorizer.
//!
//! API Gateway verifies the token (issuer, audience, signature, expiry)
//! before the function runs and hands its claims in the request context
//! (payload format 2.0, `requestContext.authorizer.jwt.claims`). With a
//! customer claim configured (`CUSTOMER_CLAIM`, `sub` by default on a stack
//! with an authorizer), this layer turns that claim into the [`Caller`] the
//! order handler checks the body's `customer_id` against. It fails closed:
//! a write whose request carries no such claim is refused 403 here, so a
//! route deployed without the authorizer cannot take anonymous orders.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lambda_http::request::RequestContext;

use engine::http::ApiError;
use engine::ingest::Caller;

/// The verified claims of the request's JWT, if API Gateway sent any.
fn jwt_claims(request: &Request) -> Option<&std::collections::HashMap<String, String>> {
    #[allow(unreachable_patterns)] // other variants exist with other lambda_http features
    match request.extensions().get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => {
            Some(&context.authorizer.as_ref()?.jwt.as_ref()?.claims)
        }
        _ => None,
    }
}

/// The middleware (`axum::middleware::from_fn_with_state(claim, ...)`):
/// every request with the claim gets its [`Caller`]; a write without it
/// is answered 403 and goes no further.
pub async fn caller_from_claim(
    State(claim): State<Arc<str>>,
    mut request: Request,
    next: Next,
) -> Response {
    let customer = jwt_claims(&request)
        .and_then(|claims| claims.get(&*claim))
        .filter(|value| !value.is_empty())
        .cloned();
    match customer {
        Some(customer) => {
            request.extensions_mut().insert(Caller(customer));
            next.run(request).await
        }
        None if matches!(*request.method(), Method::GET | Method::HEAD) => next.run(request).await,
        None => ApiError::Forbidden(format!(
            "this API takes orders from signed-in customers only: send a bearer token whose \
             `{claim}` claim names the customer"
        ))
        .into_response(),
    }
}
