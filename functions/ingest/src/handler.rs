//! The ingest function: an API Gateway HTTP API request (payload v2) in, an HTTP response
//! out. It serves Segment's tracking routes, authenticated by write key and open to
//! browsers; a write key can only add data. `nudge serve` drives this same function.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::http::{HeaderValue, Method};
use nudge_shared::adapters::aws::apigw::{body_bytes, header, json_response};
use nudge_shared::domain::{Secret, Source, SourceStamp};
use nudge_shared::ingest::{self, CallType, IngestError, Request};
use nudge_shared::ports::{EventLog, Recorded, SourceDirectory};
use nudge_shared::sources::write_key_from_basic_auth;
use nudge_shared::{Clock, InvalidField, PortError};
use serde_json::{json, Value};
use tracing::{error, info};

pub struct IngestDeps<L, S, C> {
    pub log: L,
    pub sources: S,
    pub clock: C,
}

/// Everything that can go wrong with a request, mapped to HTTP in `error_response` only.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no route for {method} {path}")]
    NotFound { method: String, path: String },
    #[error("{path} does not accept {method}")]
    MethodNotAllowed { method: String, path: String },
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{field} is larger than {limit} bytes")]
    TooLarge { field: String, limit: usize },
    #[error("invalid {0}")]
    Invalid(InvalidField),
    #[error(transparent)]
    Store(PortError),
}

impl From<IngestError> for ApiError {
    fn from(error: IngestError) -> Self {
        match error {
            IngestError::Invalid(field) => Self::Invalid(field),
            IngestError::TooLarge { field, limit } => Self::TooLarge { field, limit },
            IngestError::Store(port) => Self::Store(port),
        }
    }
}

impl From<PortError> for ApiError {
    fn from(error: PortError) -> Self {
        Self::Store(error)
    }
}

enum Route {
    Tracking(Request),
    Preflight,
}

pub async fn handle<L: EventLog, S: SourceDirectory, C: Clock>(
    deps: &IngestDeps<L, S, C>,
    request: ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    let method = request.request_context.http.method.clone();
    let path = request.raw_path.clone().unwrap_or_else(|| "/".into());
    let route = route_for(&method, &path);
    let result = match route {
        Ok(Route::Preflight) => return preflight_response(),
        Ok(Route::Tracking(call)) => track(deps, call, &request).await,
        Err(error) => Err(error),
    };
    let mut response = match result {
        Ok(body) => json_response(200, body),
        Err(error) => error_response(&error),
    };
    // Browsers read the answer only with this; API Gateway adds it too when CORS is on.
    response
        .headers
        .insert("access-control-allow-origin", HeaderValue::from_static("*"));
    response
}

fn route_for(method: &Method, path: &str) -> Result<Route, ApiError> {
    let tracking = match path.trim_end_matches('/') {
        "/v1/track" => Some(Request::Single(CallType::Track)),
        "/v1/identify" => Some(Request::Single(CallType::Identify)),
        "/v1/page" => Some(Request::Single(CallType::Page)),
        "/v1/screen" => Some(Request::Single(CallType::Screen)),
        "/v1/group" => Some(Request::Single(CallType::Group)),
        "/v1/alias" => Some(Request::Single(CallType::Alias)),
        "/v1/batch" | "/v1/import" => Some(Request::Batch),
        _ => None,
    };
    match (tracking, method) {
        (Some(call), &Method::POST) => Ok(Route::Tracking(call)),
        (Some(_), &Method::OPTIONS) => Ok(Route::Preflight),
        (Some(_), _) => Err(ApiError::MethodNotAllowed {
            method: method.to_string(),
            path: path.into(),
        }),
        (None, _) => Err(ApiError::NotFound {
            method: method.to_string(),
            path: path.into(),
        }),
    }
}

/// Authenticates, parses and records one tracking request. A key in the header is checked
/// before the body is read; a key in the body (beacons cannot set headers) after parsing.
async fn track<L: EventLog, S: SourceDirectory, C: Clock>(
    deps: &IngestDeps<L, S, C>,
    call: Request,
    request: &ApiGatewayV2httpRequest,
) -> Result<Value, ApiError> {
    let header_key = header(request, "authorization").and_then(write_key_from_basic_auth);
    let header_source = match &header_key {
        Some(key) => Some(authenticate(&deps.sources, key).await?),
        None => None,
    };
    let mut parsed = ingest::parse_request(call, &decoded_body(request)?, deps.clock.now())?;
    let source = match header_source {
        Some(source) => source,
        None => {
            let key = parsed.write_key.take().map(Secret::new).ok_or(ApiError::Unauthorized(
                "a write key is required: send it as the HTTP Basic username, or as writeKey in the body",
            ))?;
            authenticate(&deps.sources, &key).await?
        }
    };
    let stamp = SourceStamp {
        source_id: source.id.clone(),
        channel: source.channel.clone(),
    };
    let outcomes = ingest::record_all(&deps.log, &mut parsed.events, Some(&stamp)).await?;
    let duplicates = outcomes.iter().filter(|o| **o == Recorded::Duplicate).count();
    info!(source = %source.id, channel = %source.channel, events = outcomes.len(), duplicates, "events accepted");
    Ok(match call {
        Request::Single(_) => json!({ "success": true, "duplicate": duplicates == 1 }),
        Request::Batch => json!({ "success": true, "accepted": outcomes.len(), "duplicates": duplicates }),
    })
}

async fn authenticate<S: SourceDirectory>(sources: &S, key: &Secret) -> Result<Source, ApiError> {
    sources
        .source_for_key(&key.hash())
        .await?
        .ok_or(ApiError::Unauthorized("the write key is not valid"))
}

/// The body as sent: base64 undone (API Gateway's doing for binary bodies), and gzip undone
/// when the client compressed it (Segment's libraries can). Decompression stops past the
/// batch limit, so a small bomb cannot expand into memory.
fn decoded_body(request: &ApiGatewayV2httpRequest) -> Result<Vec<u8>, ApiError> {
    let body = body_bytes(request).map_err(ApiError::Invalid)?;
    let gzipped = header(request, "content-encoding").is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"));
    if !gzipped {
        return Ok(body);
    }
    let mut inflated = Vec::new();
    let limit = ingest::MAX_BATCH_BYTES as u64 + 1;
    std::io::Read::read_to_end(
        &mut std::io::Read::take(flate2::read::GzDecoder::new(body.as_slice()), limit),
        &mut inflated,
    )
    .map_err(|e| ApiError::Invalid(InvalidField::new("body", format!("is not valid gzip ({e})"))))?;
    Ok(inflated)
}

/// The one place errors become HTTP: status, and a JSON body naming the field at fault.
pub fn error_response(error: &ApiError) -> ApiGatewayV2httpResponse {
    let (status, code) = match error {
        ApiError::NotFound { .. } => (404, "not_found"),
        ApiError::MethodNotAllowed { .. } => (405, "method_not_allowed"),
        ApiError::Unauthorized(_) => (401, "unauthorized"),
        ApiError::TooLarge { .. } => (413, "payload_too_large"),
        ApiError::Invalid(_) => (400, "invalid_request"),
        ApiError::Store(port) if port.is_retryable() => (503, "unavailable"),
        ApiError::Store(_) => (500, "internal"),
    };
    if status >= 500 {
        error!(%error, "request failed");
    }
    let mut body = json!({ "error": { "code": code, "message": error.to_string() } });
    match error {
        ApiError::Invalid(field) => body["error"]["field"] = json!(field.field),
        ApiError::TooLarge { field, .. } => body["error"]["field"] = json!(field),
        _ => {}
    }
    json_response(status, body)
}

/// Browsers ask before a cross-origin POST with a JSON body or an Authorization header.
fn preflight_response() -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = 204;
    for (name, value) in [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-methods", "POST, OPTIONS"),
        ("access-control-allow-headers", "authorization, content-type"),
        ("access-control-max-age", "600"),
    ] {
        response.headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
