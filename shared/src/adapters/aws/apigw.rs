//! API Gateway HTTP API (payload v2) requests and responses: what every HTTP-facing
//! function reads from a request and how it answers in JSON.

use crate::error::InvalidField;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use base64::Engine;

/// A request header's value, when present and text.
pub fn header<'a>(request: &'a ApiGatewayV2httpRequest, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The body's bytes, with API Gateway's base64 (used for binary bodies) undone.
pub fn body_bytes(request: &ApiGatewayV2httpRequest) -> Result<Vec<u8>, InvalidField> {
    let body = request.body.as_deref().unwrap_or_default();
    if request.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| InvalidField::new("body", format!("is not valid base64 ({e})")))
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

/// A JSON response with `status`.
pub fn json_response(status: i64, body: serde_json::Value) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = status;
    response.headers = headers;
    response.body = Some(Body::Text(body.to_string()));
    response
}
