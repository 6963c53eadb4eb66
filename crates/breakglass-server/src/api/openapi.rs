//! The OpenAPI 3 document, built from the route table so it lists every route.

use serde_json::{Map, Value, json};

use super::Route;

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string", "description": "stable code: bad_request, unauthenticated, token_expired, bad_credentials, rate_limited, totp_invalid, totp_not_enrolled, forbidden, self_approval, not_allowed, mfa_required, duration_out_of_bounds, stale_digest, already_approved, wrong_state, invalid_request, not_found, exists, not_issuable, aws_limit, aws_failed, revoke_incomplete, busy, payload_too_large, unavailable, internal"},
            "message": {"type": "string"}
        }}}
    })
}

/// The document for `routes`.
pub fn document(routes: &[Route]) -> Value {
    let mut paths = Map::new();
    for r in routes {
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": r.summary,
            "operationId": format!("{}{}", r.method.to_lowercase(), r.path.replace(['/', '{', '}', '-', '.'], "_")),
            "parameters": params,
            "responses": {
                "200": {"description": "success", "content": {"application/json": {"schema": {"type": "object"}}}},
                "default": {"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if r.method == "POST"
            && let Some(o) = op.as_object_mut()
        {
            o.insert(
                "requestBody".into(),
                json!({"required": false, "content": {"application/json": {"schema": {"type": "object"}}}}),
            );
        }
        if r.authenticated
            && let Some(o) = op.as_object_mut()
        {
            o.insert("security".into(), json!([{"bearer": []}]));
        }
        let entry = paths
            .entry(r.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(e) = entry.as_object_mut() {
            e.insert(r.method.to_lowercase(), op);
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "breakglass broker API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "a personal API token (bgt_…) from POST /api/v1/login"}},
            "schemas": {"Error": error_schema()}
        }
    })
}
