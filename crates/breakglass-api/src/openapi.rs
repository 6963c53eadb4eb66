//! The OpenAPI 3 document of the API, built from the route list ([`route_docs`]) and the
//! wire types' JSON Schemas (schemars, with its OpenAPI 3.0 settings): named schemas go to
//! `components.schemas` and are referenced by `$ref`.
//!
//! Request bodies and query strings are described as the server reads them, responses as it
//! writes them. A route declares its request body, or that it has none
//! ([`RouteDoc::no_body`]); one that does neither is documented as an untyped object, which
//! the tests here refuse.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::body::{
    AcceptInvitationBody, AddUserBody, AmendBody, ApproveBody, AuditQuery, ConfirmBody,
    ConsoleBody, CreateBody, CredentialsBody, EnrollBody, ExtendBody, ListQuery, LoginBody,
    PasskeyChallengeBody, PasskeyEnrollBody, PasskeyRegisterBody, PasskeySignInBody,
    PasskeySignInFinishBody, PasswordBody, ReasonBody, ReviewBody, RevokeAllBody, SsoDeviceBody,
    SsoTokenBody, StepUpBody, TokenBody,
};
use crate::reply::{
    AccountChangedView, AuditRecords, AuditVerify, ConsoleUrl, Credentials, ErrorBody, Health,
    InvitationAccepted, Me, NewToken, NewUser, OpenApiDocument, PasskeyAdded, PasskeyChallenge,
    PasskeyList, PlaybookList, RequestList, RequestView, Revoked, RevokedAll, RevokedToken,
    SsoDeviceStart, SsoTokenReply, TokenList, TotpEnrolment, UserList,
};

/// Writes a type's schema into a generator: a `$ref` to `components.schemas` for a named
/// type.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema + ?Sized>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// The schema of `T` itself, never a `$ref` (for a query string's parameters).
fn inline_schema_of<T: JsonSchema + ?Sized>(generator: &mut SchemaGenerator) -> Schema {
    T::json_schema(generator)
}

/// A wire type: its name (for messages) and how to write its schema.
#[derive(Clone, Copy)]
pub struct Typed {
    /// The Rust type's name.
    pub name: &'static str,
    /// Its schema.
    pub schema: SchemaFn,
}

impl Typed {
    /// The wire type `T`.
    pub fn of<T: JsonSchema + ?Sized>() -> Self {
        Self {
            name: std::any::type_name::<T>(),
            schema: schema_of::<T>,
        }
    }
}

impl std::fmt::Debug for Typed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// A route's request body.
#[derive(Debug, Clone, Copy)]
pub enum RequestDoc {
    /// Not declared: documented as an untyped object (refused by the tests).
    Unspecified,
    /// The route reads no body.
    NoBody,
    /// A JSON body of this type. It is required when the type has a required field (the
    /// server reads an empty body as `{}`).
    Json(Typed),
}

/// A successful response's body.
#[derive(Debug, Clone, Copy)]
pub enum ResponseBody {
    /// JSON of this type.
    Json(Typed),
    /// Text that is not one JSON document (metrics, JSON lines).
    Text {
        /// Its media type.
        content_type: &'static str,
        /// What it holds.
        description: &'static str,
    },
}

/// A successful response.
#[derive(Debug, Clone, Copy)]
pub struct ResponseDoc {
    /// Its HTTP status.
    pub status: u16,
    /// Its body.
    pub body: ResponseBody,
}

/// One route as documented: method, path, summary, whether it needs a token, its request
/// body, query string and successful response. Every route also answers errors as
/// [`ErrorBody`].
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    /// `GET`, `POST`, `DELETE`.
    pub method: &'static str,
    /// `/api/v1/requests/{id}` (axum syntax; `{name}` segments are path parameters).
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Needs `Authorization: Bearer`.
    pub authenticated: bool,
    /// The request body.
    pub request: RequestDoc,
    /// The query string's parameters: the properties of this type.
    pub query: Option<Typed>,
    /// The successful response.
    pub response: ResponseDoc,
}

impl RouteDoc {
    /// A route answering `T` as JSON with HTTP `status`; its request body is not declared
    /// yet.
    pub fn new<T: JsonSchema + ?Sized>(
        method: &'static str,
        path: &'static str,
        summary: &'static str,
        authenticated: bool,
        status: u16,
    ) -> Self {
        Self {
            method,
            path,
            summary,
            authenticated,
            request: RequestDoc::Unspecified,
            query: None,
            response: ResponseDoc {
                status,
                body: ResponseBody::Json(Typed::of::<T>()),
            },
        }
    }

    /// A route answering text of `content_type` (not JSON); its request body is not declared
    /// yet.
    pub fn text(
        method: &'static str,
        path: &'static str,
        summary: &'static str,
        authenticated: bool,
        content_type: &'static str,
        description: &'static str,
    ) -> Self {
        Self {
            method,
            path,
            summary,
            authenticated,
            request: RequestDoc::Unspecified,
            query: None,
            response: ResponseDoc {
                status: 200,
                body: ResponseBody::Text {
                    content_type,
                    description,
                },
            },
        }
    }

    /// The route reads a JSON body of type `B`.
    #[must_use]
    pub fn body<B: JsonSchema + ?Sized>(mut self) -> Self {
        self.request = RequestDoc::Json(Typed::of::<B>());
        self
    }

    /// The route reads no body.
    #[must_use]
    pub fn no_body(mut self) -> Self {
        self.request = RequestDoc::NoBody;
        self
    }

    /// The route reads its query string as `Q`.
    #[must_use]
    pub fn query<Q: JsonSchema + ?Sized>(mut self) -> Self {
        self.query = Some(Typed {
            name: std::any::type_name::<Q>(),
            schema: inline_schema_of::<Q>,
        });
        self
    }

    /// The OpenAPI `operationId`: the method and the path.
    pub fn operation_id(&self) -> String {
        format!(
            "{}{}",
            self.method.to_lowercase(),
            self.path.replace(['/', '{', '}', '-', '.'], "_")
        )
    }
}

/// Every route of the API, as the server's route table lists them.
pub fn route_docs() -> Vec<RouteDoc> {
    type R = RouteDoc;
    vec![
        R::new::<Health>("GET", "/healthz", "Liveness: the process answers", false, 200)
            .no_body(),
        R::new::<Health>("GET", "/readyz", "Readiness: the store answers", false, 200).no_body(),
        R::text(
            "GET",
            "/metrics",
            "Prometheus metrics",
            false,
            "text/plain",
            "metrics in the Prometheus text format 0.0.4",
        )
        .no_body(),
        R::new::<OpenApiDocument>("GET", "/openapi.json", "This document", false, 200).no_body(),
        R::new::<NewToken>(
            "POST",
            "/api/v1/login",
            "Sign in with a password and, once one is enrolled, a TOTP code; returns a new API token (shown once, at most 12 hours)",
            false,
            201,
        )
        .body::<LoginBody>(),
        R::new::<SsoDeviceStart>(
            "POST",
            "/api/v1/login/sso/device",
            "Start signing in through the identity provider with the device authorization grant (RFC 8628); the broker keeps the client secret",
            false,
            200,
        )
        .body::<SsoDeviceBody>(),
        R::new::<SsoTokenReply>(
            "POST",
            "/api/v1/login/sso/token",
            "Poll a device sign-in once: pending, or a new API token (shown once, at most 12 hours)",
            false,
            200,
        )
        .body::<SsoTokenBody>(),
        R::new::<Me>("GET", "/api/v1/me", "The authenticated user", true, 200).no_body(),
        R::new::<UserList>("GET", "/api/v1/users", "List users (admin)", true, 200).no_body(),
        R::new::<NewUser>(
            "POST",
            "/api/v1/users",
            "Create a user with a one-time invitation link to set their password (admin)",
            true,
            201,
        )
        .body::<AddUserBody>(),
        R::new::<InvitationAccepted>(
            "POST",
            "/api/v1/invitations/accept",
            "Set an invited account's password (the invitation works once and expires)",
            false,
            200,
        )
        .body::<AcceptInvitationBody>(),
        R::new::<AccountChangedView>(
            "POST",
            "/api/v1/users/{id}/disable",
            "Disable a user: no sign-in, every token stops at once (admin, step-up)",
            true,
            200,
        )
        .body::<StepUpBody>(),
        R::new::<AccountChangedView>(
            "POST",
            "/api/v1/users/{id}/enable",
            "Enable a disabled user again (admin, step-up)",
            true,
            200,
        )
        .body::<StepUpBody>(),
        R::new::<AccountChangedView>(
            "POST",
            "/api/v1/users/{id}/revoke-tokens",
            "Revoke every token and console session of a user (admin, step-up)",
            true,
            200,
        )
        .body::<StepUpBody>(),
        R::new::<AccountChangedView>(
            "POST",
            "/api/v1/users/{id}/reset-second-factor",
            "Remove a user's authenticator and revoke their tokens (admin, step-up)",
            true,
            200,
        )
        .body::<StepUpBody>(),
        R::new::<AccountChangedView>(
            "POST",
            "/api/v1/password",
            "Change your password (old password and TOTP code; your other tokens are revoked)",
            true,
            200,
        )
        .body::<PasswordBody>(),
        R::new::<TokenList>("GET", "/api/v1/tokens", "List your API tokens", true, 200)
            .no_body(),
        R::new::<NewToken>(
            "POST",
            "/api/v1/tokens",
            "Create an API token (shown once)",
            true,
            201,
        )
        .body::<TokenBody>(),
        R::new::<RevokedToken>(
            "DELETE",
            "/api/v1/tokens/{id}",
            "Revoke one of your API tokens",
            true,
            200,
        )
        .no_body(),
        R::new::<TotpEnrolment>(
            "POST",
            "/api/v1/totp/enroll",
            "Start enrolling a TOTP authenticator (seed shown once; the first needs your password)",
            true,
            201,
        )
        .body::<EnrollBody>(),
        R::new::<NewToken>(
            "POST",
            "/api/v1/totp/confirm",
            "Confirm the enrolment with a code from the new authenticator; returns a new token that passed it",
            true,
            201,
        )
        .body::<ConfirmBody>(),
        R::new::<PasskeyList>("GET", "/api/v1/passkeys", "List your passkeys", true, 200)
            .no_body(),
        R::new::<PasskeyChallenge>(
            "POST",
            "/api/v1/passkeys/enroll",
            "Start enrolling a passkey (your password again): a WebAuthn creation challenge",
            true,
            201,
        )
        .body::<PasskeyEnrollBody>(),
        R::new::<PasskeyAdded>(
            "POST",
            "/api/v1/passkeys",
            "Finish enrolling a passkey with the browser's answer to the challenge",
            true,
            201,
        )
        .body::<PasskeyRegisterBody>(),
        R::new::<PasskeyList>(
            "POST",
            "/api/v1/passkeys/{id}/remove",
            "Remove one of your passkeys (step-up; never your last second factor)",
            true,
            200,
        )
        .body::<StepUpBody>(),
        R::new::<PasskeyChallenge>(
            "POST",
            "/api/v1/passkeys/challenge",
            "A passkey challenge for one step-up, bound to the action it will authorise",
            true,
            201,
        )
        .body::<PasskeyChallengeBody>(),
        R::new::<PasskeyChallenge>(
            "POST",
            "/api/v1/login/passkey",
            "Sign in with a passkey, first half: your password, then a WebAuthn challenge",
            false,
            201,
        )
        .body::<PasskeySignInBody>(),
        R::new::<NewToken>(
            "POST",
            "/api/v1/login/passkey/finish",
            "Sign in with a passkey, second half: the passkey's answer; returns a token",
            false,
            201,
        )
        .body::<PasskeySignInFinishBody>(),
        R::new::<PlaybookList>(
            "GET",
            "/api/v1/playbooks",
            "What you may ask for: per playbook, the roles and accounts you may request or activate as break-glass, for how long, with how many approvals and which step-up",
            true,
            200,
        )
        .no_body(),
        R::new::<RequestList>("GET", "/api/v1/requests", "List requests", true, 200)
            .no_body()
            .query::<ListQuery>(),
        R::new::<RequestView>(
            "POST",
            "/api/v1/requests",
            "Submit a request for approval",
            true,
            201,
        )
        .body::<CreateBody>(),
        R::new::<RequestView>("GET", "/api/v1/requests/{id}", "One request", true, 200)
            .no_body(),
        R::new::<breakglass_core::permissions::EffectivePermissions>(
            "GET",
            "/api/v1/requests/{id}/permissions",
            "What a request really allows: role ∩ boundary ∩ session policy over the action catalog, and what a narrowing removed",
            true,
            200,
        )
        .no_body(),
        R::new::<RequestView>(
            "POST",
            "/api/v1/requests/{id}/amend",
            "Change your pending request (its session policy among the rest); earlier approvals stop counting",
            true,
            200,
        )
        .body::<AmendBody>(),
        R::new::<RequestView>(
            "GET",
            "/api/v1/grants/{id}",
            "The request holding a grant (`g-…`)",
            true,
            200,
        )
        .no_body(),
        R::new::<RequestView>(
            "POST",
            "/api/v1/requests/{id}/approve",
            "Approve (TOTP step-up; bound to the request digest)",
            true,
            200,
        )
        .body::<ApproveBody>(),
        R::new::<RequestView>(
            "POST",
            "/api/v1/requests/{id}/deny",
            "Deny a pending request",
            true,
            200,
        )
        .body::<ReasonBody>(),
        R::new::<RequestView>(
            "POST",
            "/api/v1/requests/{id}/cancel",
            "Withdraw your pending request",
            true,
            200,
        )
        .body::<ReasonBody>(),
        R::new::<RequestView>(
            "POST",
            "/api/v1/requests/{id}/extend",
            "Ask for more time on an active grant",
            true,
            200,
        )
        .body::<ExtendBody>(),
        R::new::<RequestView>(
            "POST",
            "/api/v1/requests/{id}/extension/approve",
            "Approve the pending extension of a grant (TOTP step-up; bound to the extension digest)",
            true,
            200,
        )
        .body::<ApproveBody>(),
        R::new::<RequestView>(
            "POST",
            "/api/v1/requests/{id}/extension/deny",
            "Deny the pending extension of a grant",
            true,
            200,
        )
        .body::<ReasonBody>(),
        R::new::<RequestView>(
            "POST",
            "/api/v1/requests/{id}/activate",
            "Start the grant of an approved request",
            true,
            200,
        )
        .no_body(),
        R::new::<RequestView>(
            "POST",
            "/api/v1/requests/{id}/review",
            "Sign off the post-incident review of a break-glass use",
            true,
            200,
        )
        .body::<ReviewBody>(),
        R::new::<RequestView>(
            "POST",
            "/api/v1/break-glass",
            "Activate emergency access at once (TOTP step-up)",
            true,
            201,
        )
        .body::<CreateBody>(),
        R::new::<Credentials>(
            "POST",
            "/api/v1/grants/{id}/credentials",
            "Mint STS credentials for your grant (the first mint of a break-glass grant may ask for a step-up)",
            true,
            200,
        )
        .body::<CredentialsBody>(),
        R::new::<ConsoleUrl>(
            "POST",
            "/api/v1/grants/{id}/console",
            "A console sign-in URL for your grant",
            true,
            200,
        )
        .body::<ConsoleBody>(),
        R::new::<Revoked>(
            "POST",
            "/api/v1/grants/{id}/revoke",
            "Revoke a grant and cut off its live sessions",
            true,
            200,
        )
        .body::<ReasonBody>(),
        R::new::<RevokedAll>(
            "POST",
            "/api/v1/roles/revoke-all",
            "Cut off every session of a role (admin)",
            true,
            200,
        )
        .body::<RevokeAllBody>(),
        R::new::<breakglass_core::app::GrantActivity>(
            "GET",
            "/api/v1/requests/{id}/activity",
            "What the request's grant did, as CloudTrail showed it: each call, oldest first, with the alert rules it matched",
            true,
            200,
        )
        .no_body(),
        R::new::<Vec<breakglass_core::activity::Finding>>(
            "GET",
            "/api/v1/findings",
            "Unbrokered use found in CloudTrail, newest first (admin)",
            true,
            200,
        )
        .no_body(),
        R::new::<breakglass_core::game_day::GameDay>(
            "POST",
            "/api/v1/game-days",
            "Open a game day: an incident id under which real requests are a drill (admin)",
            true,
            201,
        )
        .body::<crate::body::StartGameDayBody>(),
        R::new::<breakglass_core::game_day::GameDayReport>(
            "POST",
            "/api/v1/game-days/{id}/finish",
            "Finish a game day and report who took part, each request's times and what failed (admin)",
            true,
            200,
        )
        .no_body(),
        R::new::<AuditRecords>(
            "GET",
            "/api/v1/audit",
            "Audit records after a sequence number (admin)",
            true,
            200,
        )
        .no_body()
        .query::<AuditQuery>(),
        R::new::<AuditVerify>(
            "GET",
            "/api/v1/audit/verify",
            "Verify the audit hash chain (admin)",
            true,
            200,
        )
        .no_body(),
        R::text(
            "GET",
            "/api/v1/audit/export",
            "Export the audit log as JSON lines (admin)",
            true,
            "application/x-ndjson",
            "one verified audit record per line",
        )
        .no_body()
        .query::<AuditQuery>(),
    ]
}

/// A schema with the generator's transforms (the OpenAPI 3.0 rewrites) applied.
fn finish(generator: &mut SchemaGenerator, mut schema: Schema) -> Value {
    for t in generator.transforms_mut() {
        t.transform(&mut schema);
    }
    schema.to_value()
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

fn query_parameters(generator: &mut SchemaGenerator, query: Typed) -> Vec<Value> {
    let schema = (query.schema)(generator);
    let schema = finish(generator, schema);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, prop)| {
            let mut p = json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name.as_str()),
                "schema": prop,
            });
            if let (Some(d), Some(o)) = (prop.get("description"), p.as_object_mut()) {
                o.insert("description".into(), d.clone());
            }
            p
        })
        .collect()
}

/// Whether a JSON body of this schema must be sent: the schema (or the component it
/// refers to) has a required property.
fn body_required(schema: &Value, definitions: &Map<String, Value>) -> bool {
    let target = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(COMPONENTS))
        .and_then(|name| definitions.get(name))
        .unwrap_or(schema);
    target
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty())
}

const COMPONENTS: &str = "#/components/schemas/";

/// The OpenAPI 3.0 document for `routes`.
pub fn document(routes: &[RouteDoc]) -> Value {
    // Bodies are described as the server reads them, responses as it writes them.
    let mut reads = SchemaSettings::openapi3()
        .for_deserialize()
        .into_generator();
    let mut writes = SchemaSettings::openapi3().for_serialize().into_generator();
    let error = schema_of::<ErrorBody>(&mut writes).to_value();

    let mut paths = Map::new();
    for r in routes {
        let mut parameters = path_parameters(r.path);
        if let Some(q) = r.query {
            parameters.extend(query_parameters(&mut reads, q));
        }
        let success = match r.response.body {
            ResponseBody::Json(t) => {
                let schema = (t.schema)(&mut writes);
                json!({"description": "success", "content": {"application/json": {"schema": finish(&mut writes, schema)}}})
            }
            ResponseBody::Text {
                content_type,
                description,
            } => {
                json!({"description": description, "content": {content_type: {"schema": {"type": "string"}}}})
            }
        };
        let mut responses = Map::new();
        responses.insert(r.response.status.to_string(), success);
        responses.insert(
            "default".into(),
            json!({"description": "an error", "content": {"application/json": {"schema": error}}}),
        );
        let mut op = Map::new();
        op.insert("summary".into(), json!(r.summary));
        op.insert("operationId".into(), json!(r.operation_id()));
        op.insert("parameters".into(), Value::Array(parameters));
        match r.request {
            RequestDoc::NoBody => {}
            RequestDoc::Unspecified => {
                op.insert(
                    "requestBody".into(),
                    json!({"required": false, "content": {"application/json": {"schema": {"type": "object"}}}}),
                );
            }
            RequestDoc::Json(t) => {
                let schema = (t.schema)(&mut reads);
                let schema = finish(&mut reads, schema);
                op.insert(
                    "requestBody".into(),
                    json!({"required": body_required(&schema, reads.definitions()), "content": {"application/json": {"schema": schema}}}),
                );
            }
        }
        op.insert("responses".into(), Value::Object(responses));
        if r.authenticated {
            op.insert("security".into(), json!([{"bearer": []}]));
        }
        let entry = paths
            .entry(r.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(e) = entry.as_object_mut() {
            e.insert(r.method.to_lowercase(), Value::Object(op));
        }
    }

    // One namespace of named schemas: a type read and written alike has one schema (the
    // tests check that every name shared by both sides means the same schema).
    let mut schemas = writes.take_definitions(true);
    for (name, schema) in reads.take_definitions(true) {
        schemas.entry(name).or_insert(schema);
    }
    schemas.sort_keys();

    json!({
        "openapi": "3.0.3",
        "info": {"title": "breakglass broker API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "a personal API token (bgt_…) from POST /api/v1/login"}},
            "schemas": schemas
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where in `schema` (at `at`) a schema is untyped: `true`/`false`, `{}` or a schema
    /// naming no type, or an object with neither properties nor typed additional properties.
    fn untyped(schema: &Value, at: &str, out: &mut Vec<String>) {
        let Some(o) = schema.as_object() else {
            out.push(format!("{at}: {schema}"));
            return;
        };
        let composite = ["$ref", "allOf", "anyOf", "oneOf", "enum", "const"]
            .iter()
            .any(|k| o.contains_key(*k));
        let ty = o.get("type").and_then(Value::as_str);
        let typed_additional = o
            .get("additionalProperties")
            .is_some_and(|a| a.as_object().is_some_and(|a| !a.is_empty()));
        let has_properties = o
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|p| !p.is_empty());
        if !composite
            && (ty.is_none() || (ty == Some("object") && !has_properties && !typed_additional))
        {
            out.push(format!("{at}: {schema}"));
        }
        if let Some(props) = o.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                untyped(v, &format!("{at}/properties/{k}"), out);
            }
        }
        for k in ["allOf", "anyOf", "oneOf"] {
            for (i, v) in o
                .get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                untyped(v, &format!("{at}/{k}/{i}"), out);
            }
        }
        if let Some(items) = o.get("items") {
            untyped(items, &format!("{at}/items"), out);
        }
        if let Some(a) = o.get("additionalProperties").filter(|a| a.is_object()) {
            untyped(a, &format!("{at}/additionalProperties"), out);
        }
    }

    fn all_untyped(doc: &Value) -> Vec<String> {
        let mut out = Vec::new();
        for (name, s) in doc["components"]["schemas"].as_object().unwrap() {
            untyped(s, &format!("components/schemas/{name}"), &mut out);
        }
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let at = format!("{method} {path}");
                if let Some(body) = op.get("requestBody") {
                    for (ct, c) in body["content"].as_object().unwrap() {
                        untyped(&c["schema"], &format!("{at} request {ct}"), &mut out);
                    }
                }
                for (status, resp) in op["responses"].as_object().unwrap() {
                    for (ct, c) in resp["content"].as_object().unwrap() {
                        untyped(&c["schema"], &format!("{at} {status} {ct}"), &mut out);
                    }
                }
                for p in op["parameters"].as_array().unwrap() {
                    untyped(
                        &p["schema"],
                        &format!("{at} parameter {}", p["name"]),
                        &mut out,
                    );
                }
            }
        }
        out
    }

    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(o) => {
                for (k, v) in o {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => out.push(r),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_post_route_declares_its_body_and_no_get_or_delete_route_reads_one() {
        for r in route_docs() {
            match (r.method, r.request) {
                ("POST", RequestDoc::Unspecified) => {
                    panic!("POST {} declares neither a body nor no body", r.path)
                }
                ("POST", _) => {}
                (_, RequestDoc::NoBody) => {}
                (m, other) => panic!("{m} {} reads a body: {other:?}", r.path),
            }
        }
        let no_body: Vec<&str> = route_docs()
            .iter()
            .filter(|r| r.method == "POST" && matches!(r.request, RequestDoc::NoBody))
            .map(|r| r.path)
            .collect();
        assert_eq!(
            no_body,
            [
                "/api/v1/requests/{id}/activate",
                "/api/v1/game-days/{id}/finish"
            ]
        );
    }

    #[test]
    fn no_body_response_or_parameter_of_the_api_is_an_untyped_object() {
        let doc = document(&route_docs());
        let problems = all_untyped(&doc);
        assert!(
            problems.is_empty(),
            "untyped schemas:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn an_undeclared_body_or_an_untyped_response_is_caught() {
        let undeclared = RouteDoc::new::<Health>("POST", "/x", "x", true, 200);
        assert!(!all_untyped(&document(&[undeclared])).is_empty());
        let untyped_response =
            RouteDoc::new::<serde_json::Value>("GET", "/y", "y", true, 200).no_body();
        assert!(!all_untyped(&document(&[untyped_response])).is_empty());
        let map =
            RouteDoc::new::<serde_json::Map<String, Value>>("GET", "/z", "z", true, 200).no_body();
        assert!(!all_untyped(&document(&[map])).is_empty());
    }

    #[test]
    fn the_document_is_well_formed_openapi() {
        let doc = document(&route_docs());
        assert_eq!(doc["openapi"], "3.0.3");
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r
                .strip_prefix(COMPONENTS)
                .unwrap_or_else(|| panic!("`{r}` is not a component reference"));
            assert!(schemas.contains_key(name), "`{r}` does not resolve");
        }
        let mut ids = std::collections::HashSet::new();
        let paths = doc["paths"].as_object().unwrap();
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                assert!(["get", "post", "delete"].contains(&method.as_str()));
                assert!(ids.insert(op["operationId"].as_str().unwrap().to_owned()));
                let declared: Vec<&str> = op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                let in_path: Vec<&str> = path
                    .split('/')
                    .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                    .collect();
                assert_eq!(declared, in_path, "{method} {path}");
                let responses = op["responses"].as_object().unwrap();
                assert!(
                    responses.keys().any(|k| k.starts_with('2')),
                    "{method} {path}"
                );
                assert_eq!(
                    responses["default"]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error"
                );
                if let Some(sec) = op.get("security") {
                    assert_eq!(sec, &json!([{"bearer": []}]));
                }
            }
        }
        assert_eq!(
            paths
                .values()
                .map(|p| p.as_object().unwrap().len())
                .sum::<usize>(),
            route_docs().len()
        );
        // schemars numbers a second type of the same name (`TokenRevoked2`): a wire type
        // named like a domain type it is not.
        for name in schemas.keys() {
            assert!(
                !name.ends_with(|c: char| c.is_ascii_digit()),
                "two types are named `{}`",
                name.trim_end_matches(|c: char| c.is_ascii_digit())
            );
        }
        let error = &schemas["Error"];
        assert_eq!(error["required"], json!(["error"]));
        let code = &schemas["ErrorDetail"]["properties"]["code"]["description"];
        for c in crate::ERROR_CODES {
            assert!(code.as_str().unwrap().contains(c), "{c}");
        }
    }

    #[test]
    fn a_schema_read_and_written_means_the_same_on_both_sides() {
        let mut reads = SchemaSettings::openapi3()
            .for_deserialize()
            .into_generator();
        let mut writes = SchemaSettings::openapi3().for_serialize().into_generator();
        for r in route_docs() {
            if let RequestDoc::Json(t) = r.request {
                (t.schema)(&mut reads);
            }
            if let ResponseBody::Json(t) = r.response.body {
                (t.schema)(&mut writes);
            }
        }
        let reads = reads.take_definitions(true);
        let writes = writes.take_definitions(true);
        for (name, schema) in &reads {
            if let Some(other) = writes.get(name) {
                assert_eq!(
                    schema, other,
                    "`{name}` differs between bodies and responses"
                );
            }
        }
    }

    #[test]
    fn the_request_view_schema_is_the_request_with_its_version_and_status_name() {
        let doc = document(&route_docs());
        let view = &doc["components"]["schemas"]["RequestView"];
        let required: Vec<&str> = view["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for field in [
            "id",
            "kind",
            "spec",
            "digest",
            "status",
            "version",
            "status_name",
        ] {
            assert!(required.contains(&field), "{field} in {view}");
        }
        let op = &doc["paths"]["/api/v1/requests/{id}/extension/approve"]["post"];
        assert_eq!(
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ApproveBody"
        );
        assert_eq!(op["requestBody"]["required"], true);
        let list = &doc["paths"]["/api/v1/requests"]["get"]["parameters"];
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["status", "requester", "limit"]);
    }
}
