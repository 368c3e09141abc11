//! Serving the ingest, admin and preferences functions over HTTP: each request becomes the API Gateway
//! HTTP API (payload v2) event that Lambda would receive, and the function's response goes
//! back as is. Routes and behavior are therefore the deployed API's, by construction.

use crate::runner::{LocalPipeline, SharedClock};
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::encodings::Body as LambdaBody;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use std::sync::Arc;

/// API Gateway's payload limit.
const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// The API's routes (through the functions), plus the local outbox pages.
pub fn router(pipeline: Arc<LocalPipeline>, outbox: std::path::PathBuf) -> axum::Router {
    axum::Router::new()
        .fallback(forward_to_ingest)
        .with_state(pipeline)
        .merge(crate::outbox::routes(outbox))
}

pub(crate) async fn forward_to_ingest(State(pipeline): State<Arc<LocalPipeline>>, request: Request) -> Response {
    let event = match to_lambda_event(request, &pipeline.clock).await {
        Ok(event) => event,
        Err(response) => return response,
    };
    // As API Gateway routes them: admin paths to the admin function, the rest to ingest.
    let response = match event.raw_path.as_deref() {
        Some(path) if path.starts_with("/v1/admin/") || path.starts_with("/v1/catalog/") => {
            nudge_fn_admin::handle(&pipeline.admin, event).await
        }
        Some(path) if path.starts_with("/u/") || path.starts_with("/m/") => {
            nudge_fn_preferences::handle(&pipeline.preferences, event).await
        }
        _ => nudge_fn_ingest::handle(&pipeline.ingest, event).await,
    };
    from_lambda_response(response)
}

async fn to_lambda_event(request: Request, clock: &SharedClock) -> Result<ApiGatewayV2httpRequest, Response> {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_REQUEST_BYTES).await.map_err(|_| {
        plain_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body is larger than API Gateway accepts (10 MB)",
        )
    })?;
    let (body, is_base64) = match std::str::from_utf8(&bytes) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(&bytes), true),
    };
    let headers: serde_json::Map<String, serde_json::Value> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_string(), serde_json::Value::from(value.to_str().ok()?))))
        .collect();
    let now = clock.now();
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.uri.path(),
        "rawQueryString": parts.uri.query().unwrap_or_default(),
        "headers": headers,
        "requestContext": {
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": parts.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default(),
            },
            "requestId": uuid_like(now),
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": now.timestamp_millis(),
        },
        "body": body,
        "isBase64Encoded": is_base64,
    });
    serde_json::from_value(event).map_err(|e| plain_error(StatusCode::BAD_REQUEST, &format!("cannot read the request: {e}")))
}

fn uuid_like(now: chrono::DateTime<chrono::Utc>) -> String {
    format!("local-{}", now.timestamp_nanos_opt().unwrap_or_default())
}

fn from_lambda_response(response: aws_lambda_events::apigw::ApiGatewayV2httpResponse) -> Response {
    let body = match response.body {
        Some(LambdaBody::Text(text)) => Body::from(text),
        Some(LambdaBody::Binary(bytes)) => Body::from(bytes),
        _ => Body::empty(),
    };
    let mut out = Response::new(body);
    *out.status_mut() = StatusCode::from_u16(response.status_code as u16).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in response.headers.iter() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.headers_mut().insert(name, value);
        }
    }
    out
}

fn plain_error(status: StatusCode, message: &str) -> Response {
    let mut response = Response::new(Body::from(
        serde_json::json!({"error": {"code": "invalid_request", "message": message}}).to_string(),
    ));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}
