//! Property tests through the real routes (issue 16, "fuzzing on stable"): arbitrary request bodies,
//! paths, query strings and headers sent in-process (`actix_web::test::init_service` over
//! [`accountd::startup::app`], the production stack, on a SQLite file with the demo data). Whatever
//! arrives, the server answers: no panic, never a 5xx, and a refusal is a 4xx problem+json.
//!
//! Which operations take a body, and the names of their members, are read from the OpenAPI document
//! the handlers generate, so a new route is fuzzed the day it is documented. Bodies are JSON trees
//! whose keys are mostly the operation's real member names (at any depth), with values of every
//! type: nulls, booleans, extreme and huge numbers, long and strange strings, nested objects and
//! arrays; plus raw bytes, numbers no type holds (`1e400`, 400 digits), and wrong media types.
//!
//! The case counts are moderate (these run in `cargo test`); `PROPTEST_CASES=10000 cargo test -p
//! accountd --test api fuzz` runs more.

use crate::helpers::{DEMO_PASSWORD, demo_services};
use accountd::config::AppConfig;
use accountd_domain::ids::Username;
use accountd_domain::level::Role;
use accountd_domain::secret::Password;
use accountd_domain::text::Name;
use accountd_domain::user::{NewProfile, NewUser, Profile};
use accountd_http::AppState;
use accountd_service::RequestContext;
use accountd_service::profile::Actor;
use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::test::TestRequest;
use actix_web::web;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner, contextualize_config};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Arc;

/// `cases` unless `PROPTEST_CASES` says otherwise; no regression files (failures found here are
/// kept as plain tests).
fn config(cases: u32) -> Config {
    contextualize_config(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// One answer, read whole.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Sends `req` as the server would: an `Err` of the service becomes its error response, as the
/// HTTP dispatcher does.
async fn send<S, Q, B>(app: &S, req: Q) -> Answer
where
    S: Service<Q, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let response = match app.call(req).await {
        Ok(response) => response.into_parts().1.map_into_boxed_body(),
        Err(err) => err.error_response().map_into_boxed_body(),
    };
    let status = response.status();
    let headers = response.headers().clone();
    let body = actix_web::body::to_bytes(response.into_body())
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    Answer { status, headers, body }
}

/// What every answer to anything must be: not a server error; a refusal is problem+json (a 401
/// with its challenge).
fn check(answer: &Answer, what: &str) -> Result<(), TestCaseError> {
    let body = String::from_utf8_lossy(&answer.body);
    prop_assert!(
        !answer.status.is_server_error(),
        "{} to {}: {}",
        answer.status,
        what,
        body
    );
    if answer.status.is_client_error() {
        let media = answer
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        prop_assert!(
            media.starts_with("application/problem+json") || media.starts_with("application/problem+xml"),
            "{} to {} answered as {:?}: {}",
            answer.status,
            what,
            media,
            body
        );
    }
    if answer.status == StatusCode::UNAUTHORIZED {
        prop_assert!(
            answer.headers.contains_key(header::WWW_AUTHENTICATE),
            "401 to {what} without a challenge"
        );
    }
    Ok(())
}

/// The document's operations: method, path pattern, body media type and member names.
#[derive(Debug, Clone)]
struct Operation {
    method: String,
    path: String,
    media: Option<String>,
    members: Vec<String>,
    /// The body's schema, its `$ref`s resolved (`Null` without a body).
    schema: Value,
}

/// Every operation of the OpenAPI document, with the member names of its body's schema (every
/// property at any depth, through `$ref`s).
fn operations() -> Vec<Operation> {
    let doc = serde_json::to_value(accountd_http::openapi::document()).expect("document");
    let schemas = &doc["components"]["schemas"];
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let content = op["requestBody"]["content"].as_object();
            let media = content.and_then(|c| c.keys().next().cloned());
            let mut members = BTreeSet::new();
            let schema = content
                .and_then(|c| c.values().next())
                .map_or(Value::Null, |body| resolve(&body["schema"], schemas, 0));
            if let Some(content) = content {
                for body in content.values() {
                    collect_members(&body["schema"], schemas, &mut members, 0);
                }
            }
            operations.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                media,
                members: members.into_iter().collect(),
                schema,
            });
        }
    }
    operations
}

/// `schema` with every `$ref` replaced by the schema it names (to a depth of 8).
fn resolve(schema: &Value, schemas: &Value, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(name) = schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
        return resolve(&schemas[name], schemas, depth + 1);
    }
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), resolve(v, schemas, depth + 1)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve(v, schemas, depth + 1)).collect()),
        other => other.clone(),
    }
}

/// A value of `schema`'s shape (a resolved schema): each member of an object present or not, of
/// one of its types, so that a body often gets past reading into validation and the use case.
fn shaped(schema: &Value) -> BoxedStrategy<Value> {
    if let Some(variants) = schema["oneOf"].as_array().or(schema["anyOf"].as_array())
        && !variants.is_empty()
    {
        let variants: Vec<BoxedStrategy<Value>> = variants.iter().map(shaped).collect();
        return proptest::strategy::Union::new(variants).boxed();
    }
    let types: Vec<String> = match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect(),
        _ if schema["properties"].is_object() => vec!["object".to_owned()],
        _ => vec![],
    };
    let of_type = |t: &str| -> BoxedStrategy<Value> {
        match t {
            "null" => Just(Value::Null).boxed(),
            "boolean" => any::<bool>().prop_map(Value::Bool).boxed(),
            "integer" | "number" => number().boxed(),
            "string" => text().prop_map(Value::String).boxed(),
            "array" => proptest::collection::vec(shaped(&schema["items"]), 0..4)
                .prop_map(Value::Array)
                .boxed(),
            "object" => {
                let members: Vec<BoxedStrategy<Option<(String, Value)>>> = schema["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, property)| {
                        let name = name.clone();
                        proptest::option::weighted(0.6, shaped(property))
                            .prop_map(move |v| v.map(|v| (name.clone(), v)))
                            .boxed()
                    })
                    .collect();
                members
                    .prop_map(|members| Value::Object(members.into_iter().flatten().collect()))
                    .boxed()
            }
            _ => json(vec![]).boxed(),
        }
    };
    if types.is_empty() {
        return json(vec![]).boxed();
    }
    proptest::strategy::Union::new(types.iter().map(|t| of_type(t))).boxed()
}

fn collect_members(schema: &Value, schemas: &Value, out: &mut BTreeSet<String>, depth: usize) {
    if depth > 8 {
        return;
    }
    if let Some(name) = schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
        collect_members(&schemas[name], schemas, out, depth + 1);
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            out.insert(name.clone());
            collect_members(property, schemas, out, depth + 1);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for inner in schema[key].as_array().into_iter().flatten() {
            collect_members(inner, schemas, out, depth + 1);
        }
    }
    collect_members_of(&schema["items"], schemas, out, depth);
}

fn collect_members_of(schema: &Value, schemas: &Value, out: &mut BTreeSet<String>, depth: usize) {
    if !schema.is_null() {
        collect_members(schema, schemas, out, depth + 1);
    }
}

/// Strings a client may send: real values of the demo data and the shapes, edge characters, any
/// Unicode, and long runs (past every maximum, some past the body limit).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(vec![
            "", "foouser", "jbloggs", "admin", "ApioSpTest", "ApioGrpTest", DEMO_PASSWORD, "1234", "13579",
            "Europe/Brussels", "Mars/Olympus_Mons", "a@b.c", "john.doe@netaxis.be", "+32 2 123 45 67",
            "approved", "internal", "external", "English", "DP_ApioUserTest", "LP_x@sip.netaxis.be",
            "test_department_initial", "00000000-0000-0000-0000-000000000000", "..", "/", "null", "true",
        ])
        .prop_map(str::to_owned),
        3 => any::<String>(),
        2 => "\\PC{0,40}",
        1 => "[0-9]{0,80}",
        1 => (select(vec!['a', '9', 'é', '\u{202E}', '\n', ' ', '😀']), 0usize..70_000)
            .prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
    ]
}

/// JSON numbers at and past every integer type's edges, and floats.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        select(vec![
            0i64,
            1,
            -1,
            30,
            36_500,
            36_501,
            65_535,
            65_536,
            i64::from(i32::MAX) + 1,
            i64::MIN
        ])
        .prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
    ]
}

/// A member name: mostly the operation's own, at any depth, sometimes another's or anything.
fn key(members: Vec<String>) -> impl Strategy<Value = String> {
    let own = if members.is_empty() {
        vec!["x".to_owned()]
    } else {
        members
    };
    prop_oneof![
        6 => select(own.clone()),
        1 => select(own).prop_map(|k| k.to_uppercase()),
        1 => "\\PC{0,12}",
    ]
}

/// A JSON tree of any shape whose object keys come from `members`.
fn json(members: Vec<String>) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((key(members.clone()), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A request body: mostly a JSON object of the operation's shape or of its member names with
/// values of any type, else a form, raw text with numbers no type holds, or any bytes.
fn body(members: Vec<String>, schema: &Value) -> impl Strategy<Value = Vec<u8>> + use<> {
    let shaped = shaped(schema).prop_map(|v| serde_json::to_vec(&v).unwrap_or_default());
    let object = proptest::collection::vec((key(members.clone()), json(members.clone())), 0..10)
        .prop_map(|kv| serde_json::to_vec(&Value::Object(kv.into_iter().collect())).unwrap_or_default());
    let huge = (
        key(members.clone()),
        select(vec!["1e400", "-1e400", "1.5", "-0", "1E2"]).prop_map(str::to_owned),
        "-?[1-9][0-9]{19,400}",
    )
        .prop_map(|(k, special, digits)| format!("{{{}: {special}, \"x\": {digits}}}", Value::String(k)).into_bytes());
    // A form for the form operations; harmless noise for the others.
    let form = proptest::collection::vec((key(members), text()), 0..5).prop_map(|pairs| {
        let mut form = String::new();
        for (k, v) in pairs {
            form.push_str(&format!("{}={}&", percent(&k), percent(&v)));
        }
        form.into_bytes()
    });
    prop_oneof![
        6 => shaped,
        6 => object,
        2 => form,
        1 => huge,
        1 => json(vec![]).prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
        1 => proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

/// `text` percent-encoded, every byte but unreserved ones.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A path parameter: the demo's own, one that does not exist, or any text.
fn path_parameter() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => select(vec!["ApioSpTest", "ApioGrpTest", "foouser", "jbloggs", "ghost", "admin", "1"]).prop_map(str::to_owned),
        1 => text().prop_map(|t| t.chars().take(300).collect()),
    ]
}

/// `pattern` with each `{name}` replaced by the next of `values`, percent-encoded.
fn fill(pattern: &str, values: &[String]) -> String {
    let mut path = String::new();
    let mut values = values.iter();
    let mut rest = pattern;
    while let Some(start) = rest.find('{') {
        path.push_str(&rest[..start]);
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e + 1);
        path.push_str(&percent(values.next().map_or("x", String::as_str)));
        rest = &rest[end..];
    }
    path.push_str(rest);
    path
}

/// The system administrator whose session the cases run in: the caller who gets furthest into every
/// operation.
const OPERATOR: &str = "fuzz-operator";

/// A test server's state (the demo data on a SQLite file), the runtime its services run on, and
/// [`OPERATOR`]'s session.
struct InProcess {
    system: actix_web::rt::SystemRunner,
    state: web::Data<AppState<accountd_storage::Database>>,
    /// The session cookie and XSRF token; renewed when a case ends the session (its own
    /// `DELETE /api/v1/session/sessions/{id}/`, a password change).
    session: RefCell<(String, String)>,
    _dir: tempfile::TempDir,
}

impl InProcess {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = AppConfig::default();
        config.database.url = format!("sqlite://{}", dir.path().join("accountd.db").display());
        config.throttle.failure_floor_ms = 0;
        let demo = demo_services(&config);
        // The fuzzed logins try the demo users' names and get them throttled: the session every
        // case runs in is a system administrator's of a name no strategy makes.
        demo.upstream.add_user(OPERATOR, DEMO_PASSWORD);
        let operator = NewUser::new(
            uuid::Uuid::new_v4(),
            Username::parse(OPERATOR).expect("username"),
            Role::System,
            NewProfile {
                profile: Profile::named(
                    Name::parse_for("firstName", "Fuzz").expect("name"),
                    Name::parse_for("lastName", "Operator").expect("name"),
                ),
                department: None,
            },
        );
        let password = Password::new(DEMO_PASSWORD).expect("password");
        (demo.services)
            .create_user(Actor::Operator, &operator, &password, &RequestContext::default())
            .expect("operator created");
        let services = demo.services;
        let state = web::Data::new(AppState::new(Arc::new(services), config.http.clone()));
        Self {
            system: actix_web::rt::System::new(),
            state,
            session: RefCell::new((String::new(), String::new())),
            _dir: dir,
        }
    }

    /// The production stack over this server's state.
    fn app(
        &self,
    ) -> impl Service<Request, Response = ServiceResponse<impl MessageBody + 'static>, Error = actix_web::Error> {
        let app = self
            .system
            .block_on(actix_web::test::init_service(accountd::startup::app(
                self.state.clone(),
            )));
        self.log_in(&app);
        app
    }

    /// Logs [`OPERATOR`] in through `app` and keeps the session.
    fn log_in<S, B>(&self, app: &S)
    where
        S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody + 'static,
    {
        let login = TestRequest::post()
            .uri("/api/v1/login/")
            .set_json(serde_json::json!({"username": OPERATOR, "password": DEMO_PASSWORD}));
        let answer = self.system.block_on(send(app, login.to_request()));
        assert_eq!(answer.status, StatusCode::OK, "operator login");
        let cookie = |name: &str| {
            answer
                .headers
                .get_all(header::SET_COOKIE)
                .filter_map(|v| v.to_str().ok())
                .filter_map(|v| actix_web::cookie::Cookie::parse(v.to_owned()).ok())
                .find(|c| c.name() == name)
                .map(|c| c.value().to_owned())
                .expect("session cookies")
        };
        *self.session.borrow_mut() = (cookie("sessionid"), cookie("XSRF-TOKEN"));
    }

    /// Sends `req` with [`OPERATOR`]'s session cookie and XSRF token; logs in again when the
    /// answer is a 401 (the case ended the session), so the next case has one.
    fn send_as_operator<S, B>(&self, app: &S, req: TestRequest) -> Answer
    where
        S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody + 'static,
    {
        let (session, xsrf) = self.session.borrow().clone();
        let req = req
            .cookie(actix_web::cookie::Cookie::new("sessionid", session))
            .cookie(actix_web::cookie::Cookie::new("XSRF-TOKEN", xsrf.clone()))
            .insert_header(("X-XSRF-TOKEN", xsrf));
        let answer = self.system.block_on(send(app, req.to_request()));
        if answer.status == StatusCode::UNAUTHORIZED {
            self.log_in(app);
        }
        answer
    }
}

/// Fails the test with proptest's report (the minimal failing input) when `result` is a failure.
fn report<T: std::fmt::Debug>(result: Result<(), proptest::test_runner::TestError<T>>) {
    if let Err(err) = result {
        panic!("{err}");
    }
}

/// A media type for a body: mostly the operation's, sometimes another or none.
fn media(own: Option<String>) -> impl Strategy<Value = Option<String>> {
    let own = own.unwrap_or_else(|| "application/json".to_owned());
    prop_oneof![
        8 => Just(Some(own)),
        1 => select(vec!["application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "application/problem+json", "multipart/form-data; boundary=x"])
            .prop_map(|m| Some(m.to_owned())),
        1 => Just(None),
    ]
}

/// Every operation of the document, with an arbitrary body, path parameters and query string, as
/// [`OPERATOR`]: never a 5xx, every refusal a 4xx problem.
#[test]
fn every_operation_answers_any_body_without_a_server_error() {
    let server = InProcess::start();
    let app = server.app();
    // Logging out would end the session every later case runs in (the headers test sends it).
    let operations: Vec<Operation> = operations()
        .into_iter()
        .filter(|op| op.path != "/api/v1/logout/")
        .collect();
    let strategy = select(operations).prop_flat_map(|op| {
        let body = body(op.members.clone(), &op.schema);
        let media = media(op.media.clone());
        (
            Just(op),
            body,
            media,
            proptest::collection::vec(path_parameter(), 3),
            proptest::option::of("[a-zA-Z_]{1,8}=\\PC{0,12}(&[a-z]{1,6}=[0-9a-z]{0,5}){0,3}"),
        )
    });
    let mut runner = TestRunner::new(config(192));
    report(runner.run(&strategy, |(op, body, media, parameters, query)| {
        let mut uri = fill(&op.path, &parameters);
        if let Some(query) = query {
            uri.push('?');
            uri.push_str(&percent_query(&query));
        }
        let method = actix_web::http::Method::from_bytes(op.method.as_bytes()).expect("method");
        let mut req = TestRequest::default().method(method).uri(&uri).set_payload(body);
        if let Some(media) = media {
            req = req.insert_header((header::CONTENT_TYPE, media));
        }
        let answer = server.send_as_operator(&app, req);
        check(&answer, &format!("{} {uri}", op.method))
    }));
}

/// A query string kept as typed, its bytes that are not a query's own characters percent-encoded.
fn percent_query(query: &str) -> String {
    query
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A header value as a client may send it: visible ASCII, spaces, tabs and obs-text bytes (what
/// HTTP lets through to a handler), shaped like the header's own values or not at all.
fn header_value(shapes: Vec<String>) -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        3 => select(shapes),
        2 => "[ -~]{0,80}",
        1 => proptest::collection::vec(any::<u8>(), 0..80).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
    .prop_filter_map("a header value", |v| HeaderValue::from_bytes(v.as_bytes()).ok())
}

/// `Authorization`: each scheme we read, in any case, with base64 of any `user:password`, or any
/// text.
fn authorization() -> impl Strategy<Value = HeaderValue> {
    use base64::Engine;
    let scheme = select(vec![
        "Basic", "basic", "BASIC", "Bearer", "SOTicket", "SoTicket", "Digest", "",
    ]);
    let credentials = prop_oneof![
        (text(), text()).prop_map(|(u, p)| base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        "[ -~]{0,60}",
    ];
    (scheme, credentials, select(vec![" ", "  ", "", "\t"]))
        .prop_filter_map("a header value", |(scheme, credentials, space)| {
            HeaderValue::from_str(&format!("{scheme}{space}{credentials}")).ok()
        })
}

/// Every operation of the document without a session, with arbitrary `Accept`, `Accept-Language`,
/// `SO-Language`, `Authorization`, `Cookie` and `X-XSRF-TOKEN` headers: never a 5xx, every refusal
/// a 4xx problem (a 401 with its challenge).
#[test]
fn every_operation_answers_any_headers_without_a_server_error() {
    let server = InProcess::start();
    let app = server
        .system
        .block_on(actix_web::test::init_service(accountd::startup::app(
            server.state.clone(),
        )));
    let accept = header_value(
        [
            "application/json",
            "application/xml;q=0, */*",
            "*/*;q=0",
            "text/*;q=0.5, application/json-patch+json",
            "application/json;q=1.5",
            "*/x",
            "application/xml;q=0.001",
        ]
        .map(str::to_owned)
        .to_vec(),
    );
    let language = || {
        header_value(
            ["sv", "en;q=0.5, sv;q=0.6", "*", "sv_SE;q=2", "de"]
                .map(str::to_owned)
                .to_vec(),
        )
    };
    let cookie = header_value(
        [
            "sessionid=1",
            "sessionid=; XSRF-TOKEN=",
            "sessionid=\"quoted\"; sessionid=2",
            "=; ;;",
            "XSRF-TOKEN=a; sessionid=a%00b",
        ]
        .map(str::to_owned)
        .to_vec(),
    );
    let xsrf = header_value(vec!["a".to_owned(), String::new()]);
    let strategy = (
        select(operations()),
        proptest::collection::vec(path_parameter(), 3),
        proptest::option::of(accept),
        proptest::option::of(language()),
        proptest::option::of(language()),
        proptest::option::weighted(0.7, authorization()),
        proptest::option::of(cookie),
        proptest::option::of(xsrf),
    );
    let mut runner = TestRunner::new(config(128));
    report(runner.run(
        &strategy,
        |(op, parameters, accept, language, so_language, authorization, cookie, xsrf)| {
            let uri = fill(&op.path, &parameters);
            let method = actix_web::http::Method::from_bytes(op.method.as_bytes()).expect("method");
            let mut req = TestRequest::default().method(method).uri(&uri);
            for (name, value) in [
                (header::ACCEPT, accept),
                (header::ACCEPT_LANGUAGE, language),
                (HeaderName::from_static("so-language"), so_language),
                (header::AUTHORIZATION, authorization),
                (header::COOKIE, cookie),
                (HeaderName::from_static("x-xsrf-token"), xsrf),
            ] {
                if let Some(value) = value {
                    req = req.insert_header((name, value));
                }
            }
            let answer = server.system.block_on(send(&app, req.to_request()));
            check(&answer, &format!("{} {uri}", op.method))
        },
    ));
}
