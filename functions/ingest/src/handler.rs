//! The ingest function: an API Gateway HTTP API request (payload v2) in, the tracking call
//! recorded durably, an HTTP response out. `nudge serve` drives this same function.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue, Method};
use base64::Engine;
use nudge_shared::ingest::{self, CallType, IngestError};
use nudge_shared::ports::{EventLog, Recorded};
use nudge_shared::{Clock, InvalidField, PortError};
use serde_json::json;
use tracing::{error, info};

/// Segment's limit for one call.
pub const MAX_BODY_BYTES: usize = 32 * 1024;

pub struct IngestDeps<L, C> {
    pub log: L,
    pub clock: C,
}

/// Everything that can go wrong with a request, mapped to HTTP in `error_response` only.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no route for {method} {path}")]
    NotFound { method: String, path: String },
    #[error("{path} does not accept {method}")]
    MethodNotAllowed { method: String, path: String },
    #[error("body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("invalid {0}")]
    Invalid(InvalidField),
    #[error(transparent)]
    Store(PortError),
}

impl From<IngestError> for ApiError {
    fn from(error: IngestError) -> Self {
        match error {
            IngestError::Invalid(field) => Self::Invalid(field),
            IngestError::Store(port) => Self::Store(port),
        }
    }
}

pub async fn handle<L: EventLog, C: Clock>(deps: &IngestDeps<L, C>, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let method = request.request_context.http.method.clone();
    let path = request.raw_path.clone().unwrap_or_else(|| "/".into());
    let result = match call_for(&method, &path) {
        Ok(call) => accept(deps, call, &request).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(recorded) => json_response(200, json!({ "success": true, "duplicate": recorded == Recorded::Duplicate })),
        Err(error) => error_response(&error),
    }
}

fn call_for(method: &Method, path: &str) -> Result<CallType, ApiError> {
    let call = match path.trim_end_matches('/') {
        "/v1/track" => CallType::Track,
        "/v1/identify" => CallType::Identify,
        _ => {
            return Err(ApiError::NotFound {
                method: method.to_string(),
                path: path.into(),
            })
        }
    };
    if method != Method::POST {
        return Err(ApiError::MethodNotAllowed {
            method: method.to_string(),
            path: path.into(),
        });
    }
    Ok(call)
}

async fn accept<L: EventLog, C: Clock>(
    deps: &IngestDeps<L, C>,
    call: CallType,
    request: &ApiGatewayV2httpRequest,
) -> Result<Recorded, ApiError> {
    let body = body_bytes(request)?;
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::TooLarge);
    }
    let (event, recorded) = ingest::accept(&deps.log, call, &body, deps.clock.now()).await?;
    info!(message_id = %event.message_id, person = %event.person_id, kind = ?event.kind, duplicate = (recorded == Recorded::Duplicate), "event accepted");
    Ok(recorded)
}

fn body_bytes(request: &ApiGatewayV2httpRequest) -> Result<Vec<u8>, ApiError> {
    let body = request.body.as_deref().unwrap_or_default();
    if request.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| ApiError::Invalid(InvalidField::new("body", format!("is not valid base64 ({e})"))))
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

/// The one place errors become HTTP: status, and a JSON body naming the field at fault.
pub fn error_response(error: &ApiError) -> ApiGatewayV2httpResponse {
    let (status, code) = match error {
        ApiError::NotFound { .. } => (404, "not_found"),
        ApiError::MethodNotAllowed { .. } => (405, "method_not_allowed"),
        ApiError::TooLarge => (413, "payload_too_large"),
        ApiError::Invalid(_) => (400, "invalid_request"),
        ApiError::Store(port) if port.is_retryable() => (503, "unavailable"),
        ApiError::Store(_) => (500, "internal"),
    };
    if status >= 500 {
        error!(%error, "request failed");
    }
    let mut body = json!({ "error": { "code": code, "message": error.to_string() } });
    if let ApiError::Invalid(field) = error {
        body["error"]["field"] = json!(field.field);
        body["error"]["message"] = json!(field.to_string());
    }
    json_response(status, body)
}

fn json_response(status: i64, body: serde_json::Value) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = status;
    response.headers = headers;
    response.body = Some(Body::Text(body.to_string()));
    response
}
