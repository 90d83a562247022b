//! The axum integration, driven through a router with `tower::ServiceExt::oneshot` (no
//! network): the cookies' attributes, the pending-login cookie, token rotation, every
//! extractor's refusal, the CSRF refusals (no or wrong token, a foreign origin), the error
//! table, `Retry-After`, and the security headers.
#![cfg(all(feature = "axum", feature = "memory"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use serde::Deserialize;
use tower::ServiceExt;

use authcore::credential::password::HashParams;
use authcore::credential::{RecoveryParams, password::PolicyViolation};
use authcore::otp::{Clock, ManualClock, SecretKey, SystemClock, Totp};
use authcore::policy::{
    AccessDenied, AuthenticatorName, EnrollmentConfig, EnrollmentPurpose, PolicyError, Role,
    SessionRefused,
};
use authcore::service::ErrorClass;
use authcore::store::{MemoryAuditLog, RecordingNotifier};
use authcore::web::{
    Authorized, AuthorizedOwn, ClientLabels, CsrfForm, CsrfHeader, CsrfToken, CurrentSession,
    ManageMembers, PendingLogin, PendingStep, RequireAal2, RequireFresh, RequireFreshWithin,
    SameSite, ViewJobs, ViewReports, WebAuth, WebConfig, WebKey,
};
use authcore::{
    Authenticator, BearerToken, Grant, MemoryStore, OrgId, Password, PasswordHasher, ServiceConfig,
    ServiceError, Services,
};

const T0: u64 = 1_700_000_010;
const ORIGIN: &str = "https://app.example";
const OWNER: &str = "olivia@example.com";
const OWNER_PW: &str = "correct horse battery staple 42";
const MEMBER: &str = "uma@example.com";
const MEMBER_PW: &str = "member passphrase of some length";

type Service = Authenticator<
    Services<MemoryStore, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, PasswordHasher>,
>;

struct World {
    auth: Arc<Service>,
    clock: Arc<ManualClock>,
    web: WebAuth,
    app: Router,
}

fn service() -> (Arc<Service>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let hasher = PasswordHasher::builder()
        .params(HashParams::dangerous_weak(64, 1, 1).unwrap())
        .build()
        .unwrap();
    let config = ServiceConfig::builder("Example")
        .recovery(
            RecoveryParams::builder()
                .dangerous_argon2(64, 1, 1)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let backend = Services::new(
        MemoryStore::new(),
        MemoryAuditLog::new(),
        RecordingNotifier::new(),
    )
    .unwrap()
    .with_clock(Arc::clone(&clock))
    .with_hasher(hasher);
    (Arc::new(Authenticator::new(backend, config)), clock)
}

fn web_config() -> WebConfig {
    WebConfig::builder(WebKey::from_bytes(&[7; 32]).unwrap(), ORIGIN)
        .build()
        .unwrap()
}

fn world_with(config: WebConfig) -> World {
    let (auth, clock) = service();
    let web = WebAuth::new(Arc::clone(&auth), config);
    let app = routes()
        .layer(Extension(Arc::clone(&auth)))
        .layer(web.csrf_layer())
        .layer(web.security_headers())
        .layer(web.layer());
    World {
        auth,
        clock,
        web,
        app,
    }
}

fn world() -> World {
    world_with(web_config())
}

// ---- the host's handlers -------------------------------------------------------------------

#[derive(Deserialize)]
struct LoginForm {
    login: String,
    password: String,
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

#[derive(Deserialize)]
struct ReauthForm {
    password: String,
    code: String,
}

#[derive(Deserialize)]
struct NoteForm {
    note: String,
}

fn step_name(step: &authcore::LoginStep) -> &'static str {
    match step {
        authcore::LoginStep::Granted(_) => "granted",
        authcore::LoginStep::SecondFactor { .. } => "second_factor",
        authcore::LoginStep::ChangePassword { .. } => "change_password",
        authcore::LoginStep::EnrollMfa { .. } => "enroll_mfa",
        authcore::LoginStep::ChooseOrganisation { .. } => "choose_organisation",
    }
}

async fn login(
    Extension(auth): Extension<Arc<Service>>,
    Extension(web): Extension<WebAuth>,
    Form(form): Form<LoginForm>,
) -> Response {
    match auth
        .login(&form.login, Password::from(form.password.as_str()))
        .await
    {
        Ok(step) => (web.login_cookies(&step), step_name(&step)).into_response(),
        Err(e) => web.respond(e).into_response(),
    }
}

async fn login_totp(
    Extension(auth): Extension<Arc<Service>>,
    Extension(web): Extension<WebAuth>,
    pending: PendingLogin,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Response {
    let pending = match pending.at(PendingStep::SecondFactor) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let org = match pending.require_org() {
        Ok(org) => org,
        Err(r) => return r.into_response(),
    };
    match auth.verify_totp(org, pending.ticket(), &form.code).await {
        Ok(step) => (web.login_cookies(&step), step_name(&step)).into_response(),
        Err(e) => web.respond(e).into_response(),
    }
}

async fn pending_info(pending: Option<PendingLogin>) -> String {
    match pending {
        Some(p) => format!("{:?} {:?}", p.step(), p.org()),
        None => "none".into(),
    }
}

async fn me(session: CurrentSession) -> String {
    session.grant().person().to_string()
}

async fn maybe(session: Option<CurrentSession>) -> &'static str {
    if session.is_some() { "in" } else { "out" }
}

async fn aal2(_: RequireAal2) -> &'static str {
    "aal2"
}

async fn fresh(_: RequireFresh) -> &'static str {
    "fresh"
}

async fn fresh60(_: RequireFreshWithin<60>) -> &'static str {
    "fresh60"
}

async fn members(_: Authorized<ManageMembers>) -> &'static str {
    "members"
}

async fn reports(_: Authorized<ViewReports>) -> &'static str {
    "reports"
}

async fn own_jobs(_: AuthorizedOwn<ViewJobs>) -> &'static str {
    "own jobs"
}

async fn all_jobs(_: Authorized<ViewJobs>) -> &'static str {
    "all jobs"
}

async fn csrf(token: CsrfToken) -> String {
    token.value().to_owned()
}

async fn note(_: CurrentSession, CsrfForm(form): CsrfForm<NoteForm>) -> String {
    form.note
}

async fn api(_: CsrfHeader) -> &'static str {
    "api"
}

async fn step_up(
    Extension(auth): Extension<Arc<Service>>,
    session: CurrentSession,
    CsrfForm(form): CsrfForm<ReauthForm>,
) -> Response {
    let web = session.web().clone();
    match auth
        .reauthenticate_session(
            session.expose_token(),
            Password::from(form.password.as_str()),
            &form.code,
        )
        .await
    {
        Ok(opened) => (web.signed_in(&opened), "stepped up").into_response(),
        Err(e) => web.respond(e).into_response(),
    }
}

async fn logout(Extension(auth): Extension<Arc<Service>>, session: CurrentSession) -> Response {
    let web = session.web().clone();
    match auth.sign_out(session.expose_token()).await {
        Ok(()) => (web.signed_out(), "bye").into_response(),
        Err(e) => web.respond(e).into_response(),
    }
}

async fn mfa_start(
    Extension(auth): Extension<Arc<Service>>,
    session: CurrentSession,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    let purpose = EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap());
    match auth.start_enrollment(session.grant(), purpose).await {
        Ok(setup) => setup.manual_key().to_string().into_response(),
        Err(e) => session.web().respond(e).into_response(),
    }
}

async fn mfa_confirm(
    Extension(auth): Extension<Arc<Service>>,
    session: CurrentSession,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Response {
    match auth.confirm_enrollment(session.grant(), &form.code).await {
        Ok(_codes) => "confirmed".into_response(),
        Err(e) => session.web().respond(e).into_response(),
    }
}

async fn mfa_acknowledge(
    Extension(auth): Extension<Arc<Service>>,
    session: CurrentSession,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    match auth
        .acknowledge_enrollment_in_session(session.expose_token())
        .await
    {
        Ok((_, opened)) => (session.web().signed_in(&opened), "acknowledged").into_response(),
        Err(e) => session.web().respond(e).into_response(),
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn label(
    Extension(auth): Extension<Arc<Service>>,
    session: CurrentSession,
    ClientLabels(labels): ClientLabels,
) -> Response {
    match auth.label_session(session.expose_token(), &labels).await {
        Ok(()) => format!("{:?} {:?}", labels.user_agent(), labels.ip()).into_response(),
        Err(e) => session.web().respond(e).into_response(),
    }
}

async fn throttled(Extension(web): Extension<WebAuth>) -> Response {
    web.respond(ServiceError::Throttled {
        retry_at: web.now() + 30,
    })
    .into_response()
}

async fn throttled_system() -> Result<(), ServiceError> {
    Err(ServiceError::Throttled {
        retry_at: SystemClock.now() + 42,
    })
}

async fn cached() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "max-age=60")], "cached")
}

/// The errors the `/error/{i}` route answers with, and their classes.
fn errors() -> Vec<(ServiceError, ErrorClass)> {
    vec![
        (
            ServiceError::InvalidCredentials,
            ErrorClass::Unauthenticated,
        ),
        (
            ServiceError::Session(SessionRefused::StaleEpoch),
            ErrorClass::SessionEnded,
        ),
        (
            ServiceError::Policy(PolicyError::ReauthenticationRequired),
            ErrorClass::StepUpRequired,
        ),
        (
            ServiceError::Denied(AccessDenied::Aal2Required),
            ErrorClass::StepUpRequired,
        ),
        (
            ServiceError::Denied(AccessDenied::NotPermitted),
            ErrorClass::Forbidden,
        ),
        (ServiceError::Locked, ErrorClass::Locked),
        (
            ServiceError::Policy(PolicyError::UnknownAuthenticator),
            ErrorClass::NotFound,
        ),
        (ServiceError::LoginTaken, ErrorClass::Conflict),
        (
            ServiceError::Policy(PolicyError::NoEnrollment),
            ErrorClass::Conflict,
        ),
        (
            ServiceError::PasswordPolicy(PolicyViolation::TooShort { min: 15, length: 4 }),
            ErrorClass::PasswordRefused(PolicyViolation::TooShort { min: 15, length: 4 }),
        ),
        (ServiceError::InvalidLogin, ErrorClass::BadRequest),
        (
            ServiceError::Storage(Box::new(std::io::Error::other(
                "connection to db.internal:5432 refused",
            ))),
            ErrorClass::Internal,
        ),
        (ServiceError::Hashing, ErrorClass::Internal),
        (
            ServiceError::Undelivered(Box::new(std::io::Error::other("smtp relay down"))),
            ErrorClass::Unavailable,
        ),
    ]
}

async fn error(Extension(web): Extension<WebAuth>, Path(i): Path<usize>) -> Response {
    let (e, _) = errors().swap_remove(i);
    web.respond(e).into_response()
}

fn routes() -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/login/totp", post(login_totp))
        .route("/login/pending", get(pending_info))
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .route("/aal2", get(aal2))
        .route("/fresh", get(fresh))
        .route("/fresh60", get(fresh60))
        .route("/members", get(members))
        .route("/reports", get(reports))
        .route("/jobs/own", get(own_jobs))
        .route("/jobs", get(all_jobs))
        .route("/csrf", get(csrf))
        .route("/note", post(note))
        .route("/api", post(api))
        .route("/step-up", post(step_up))
        .route("/logout", post(logout))
        .route("/mfa/start", post(mfa_start))
        .route("/mfa/confirm", post(mfa_confirm))
        .route("/mfa/acknowledge", post(mfa_acknowledge))
        .route("/throttled", get(throttled))
        .route("/throttled-system", get(throttled_system))
        .route("/cached", get(cached))
        .route("/error/{i}", get(error))
        .route("/label", post(label))
}

// ---- the client ----------------------------------------------------------------------------

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }

    fn code(&self) -> String {
        self.json()["error"].as_str().unwrap().to_owned()
    }

    /// The `Set-Cookie` line for `name`.
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|v| v.starts_with(&format!("{name}=")))
    }

    /// The value the response sets for the cookie `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        let line = self.set_cookie(name)?;
        let pair = line.split(';').next().unwrap();
        Some(pair.split_once('=').unwrap().1.to_owned())
    }
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn get_with(path: &str, cookies: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::get(path);
    if !cookies.is_empty() {
        request = request.header(header::COOKIE, cookie_header(cookies));
    }
    request.body(Body::empty()).unwrap()
}

fn cookie_header(cookies: &[(&str, &str)]) -> String {
    cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                url::form_urlencoded::byte_serialize(k.as_bytes()).collect::<String>(),
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A form post from the application's own origin.
fn post_form(path: &str, cookies: &[(&str, &str)], pairs: &[(&str, &str)]) -> Request<Body> {
    post_from(path, Some(ORIGIN), cookies, pairs)
}

fn post_from(
    path: &str,
    origin: Option<&str>,
    cookies: &[(&str, &str)],
    pairs: &[(&str, &str)],
) -> Request<Body> {
    let mut request =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    if !cookies.is_empty() {
        request = request.header(header::COOKIE, cookie_header(cookies));
    }
    request.body(Body::from(form(pairs))).unwrap()
}

const SESSION: &str = WebConfig::SESSION_COOKIE;
const LOGIN: &str = WebConfig::LOGIN_COOKIE;

fn code(key: &SecretKey, now: u64) -> String {
    Totp::new(EnrollmentConfig::default().params(), key)
        .generate(now)
        .unwrap()
        .expose_secret()
        .to_owned()
}

/// The owner signed up; their first session's grant (password only).
async fn owner(w: &World) -> (OrgId, Grant) {
    let up = w
        .auth
        .sign_up(OWNER, Password::from(OWNER_PW))
        .await
        .unwrap();
    let step = w
        .auth
        .login_to(up.org, OWNER, Password::from(OWNER_PW))
        .await
        .unwrap();
    (up.org, *step.grant().unwrap())
}

/// The owner with an authenticator app; its key.
async fn owner_with_app(w: &World) -> (OrgId, SecretKey) {
    let (org, grant) = owner(w).await;
    let setup = w
        .auth
        .start_enrollment(
            &grant,
            EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap()),
        )
        .await
        .unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    let _codes = w
        .auth
        .confirm_enrollment(&grant, &code(&key, w.clock.now()))
        .await
        .unwrap();
    w.auth.acknowledge_enrollment(&grant).await.unwrap();
    (org, key)
}

/// Signs in through the pages: the password, and the app's code if asked; the session token.
async fn sign_in(w: &World, login: &str, password: &str, key: Option<&SecretKey>) -> String {
    let answer = send(
        &w.app,
        post_form("/login", &[], &[("login", login), ("password", password)]),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    if answer.body == "granted" {
        return answer.cookie(SESSION).unwrap();
    }
    assert_eq!(answer.body, "second_factor");
    let pending = answer.cookie(LOGIN).unwrap();
    let token = send(&w.app, get_with("/csrf", &[(LOGIN, &pending)]))
        .await
        .body;
    w.clock.advance(30);
    let answer = send(
        &w.app,
        post_form(
            "/login/totp",
            &[(LOGIN, &pending)],
            &[
                ("code", &code(key.unwrap(), w.clock.now())),
                ("csrf_token", &token),
            ],
        ),
    )
    .await;
    assert_eq!(answer.body, "granted");
    answer.cookie(SESSION).unwrap()
}

fn assert_cookie_attributes(line: &str, same_site: &str) {
    let attributes: Vec<&str> = line.split(';').map(str::trim).skip(1).collect();
    for wanted in ["Secure", "HttpOnly", "Path=/", same_site] {
        assert!(attributes.contains(&wanted), "{wanted} in {line}");
    }
    assert!(
        !attributes.iter().any(|a| a.starts_with("Domain")),
        "a __Host- cookie names no domain: {line}"
    );
    assert!(line.starts_with("__Host-"), "{line}");
}

// ---- the tests -----------------------------------------------------------------------------

#[tokio::test]
async fn the_session_cookie_is_host_bound_secure_http_only_and_lax() {
    let w = world();
    let (_, _) = owner(&w).await;
    let answer = send(
        &w.app,
        post_form("/login", &[], &[("login", OWNER), ("password", OWNER_PW)]),
    )
    .await;
    assert_eq!(answer.body, "granted");
    let line = answer.set_cookie(SESSION).expect("a session cookie");
    assert_cookie_attributes(&line, "SameSite=Lax");
    assert!(
        !line.contains("Max-Age"),
        "a browser-session cookie: {line}"
    );
    let cleared = answer.set_cookie(LOGIN).expect("the pending login cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let token = answer.cookie(SESSION).unwrap();
    assert!(BearerToken::parse(&token).is_ok(), "only the opaque token");
    // The token a page rendered with the sign-in would embed is the next request's.
    let opened = w
        .auth
        .login(OWNER, Password::from(OWNER_PW))
        .await
        .unwrap()
        .into_session()
        .unwrap();
    let early = w.web.csrf_token_for_session(&opened).unwrap();
    let later = send(
        &w.app,
        get_with("/csrf", &[(SESSION, &opened.token.expose_secret())]),
    )
    .await
    .body;
    assert_eq!(early.value(), later);
    let grant = w.auth.authenticate(&token).await.unwrap();

    let me = send(&w.app, get_with("/me", &[(SESSION, &token)])).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body, grant.person().to_string());
    assert_eq!(
        send(&w.app, get_with("/maybe", &[(SESSION, &token)]))
            .await
            .body,
        "in"
    );
    assert_eq!(send(&w.app, get_with("/maybe", &[])).await.body, "out");
    assert_eq!(
        send(&w.app, get_with("/maybe", &[(SESSION, "forged")]))
            .await
            .body,
        "out"
    );

    let bye = send(&w.app, post_form("/logout", &[(SESSION, &token)], &[])).await;
    assert_eq!(bye.body, "bye");
    assert!(bye.set_cookie(SESSION).unwrap().contains("Max-Age=0"));
    let after = send(&w.app, get_with("/me", &[(SESSION, &token)])).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.code(), "session_ended");
}

#[tokio::test]
async fn two_different_session_cookies_are_no_session() {
    let w = world();
    let (_, _) = owner(&w).await;
    let token = || async {
        let opened = w
            .auth
            .login(OWNER, Password::from(OWNER_PW))
            .await
            .unwrap()
            .into_session()
            .unwrap();
        opened.token.expose_secret().to_string()
    };
    let (mine, other) = (token().await, token().await);
    let me = |cookies: Vec<(&'static str, String)>| {
        let app = w.app.clone();
        async move {
            let pairs: Vec<(&str, &str)> = cookies.iter().map(|(n, v)| (*n, v.as_str())).collect();
            send(&app, get_with("/maybe", &pairs)).await.body
        }
    };
    assert_eq!(me(vec![(SESSION, mine.clone())]).await, "in");
    // The same value twice is the one cookie.
    assert_eq!(
        me(vec![(SESSION, mine.clone()), (SESSION, mine.clone())]).await,
        "in"
    );
    // Two live sessions, or a live one and a tossed one, in either order: neither is trusted.
    assert_eq!(
        me(vec![(SESSION, mine.clone()), (SESSION, other.clone())]).await,
        "out"
    );
    assert_eq!(
        me(vec![
            (SESSION, "tossed".to_owned()),
            (SESSION, mine.clone())
        ])
        .await,
        "out"
    );
    // In two Cookie headers, as HTTP/2 may send them.
    let request = Request::get("/maybe")
        .header(header::COOKIE, format!("{SESSION}={mine}"))
        .header(header::COOKIE, format!("{SESSION}={other}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&w.app, request).await.body, "out");
    let me = send(
        &w.app,
        get_with("/me", &[(SESSION, &mine), (SESSION, &other)]),
    )
    .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_cookie_settings_are_honoured() {
    let config = WebConfig::builder(WebKey::from_bytes(&[7; 32]).unwrap(), ORIGIN)
        .same_site(SameSite::Strict)
        .session_max_age(86_400)
        .cookie_names("__Host-s", "__Host-l")
        .build()
        .unwrap();
    let w = world_with(config);
    let _ = owner(&w).await;
    let answer = send(
        &w.app,
        post_form("/login", &[], &[("login", OWNER), ("password", OWNER_PW)]),
    )
    .await;
    let line = answer.set_cookie("__Host-s").expect("the configured name");
    assert_cookie_attributes(&line, "SameSite=Strict");
    assert!(line.contains("Max-Age=86400"), "{line}");
    let token = answer.cookie("__Host-s").unwrap();
    assert_eq!(
        send(&w.app, get_with("/me", &[("__Host-s", &token)]))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&w.app, get_with("/me", &[(SESSION, &token)]))
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "the default name is not read"
    );
}

#[tokio::test]
async fn the_current_session_refuses_without_a_live_session() {
    let w = world();
    let none = send(&w.app, get_with("/me", &[])).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.code(), "signed_out");
    assert_eq!(
        none.headers[header::WWW_AUTHENTICATE],
        "Cookie realm=\"authcore\""
    );
    let forged = send(&w.app, get_with("/me", &[(SESSION, "not-a-token")])).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert_eq!(forged.code(), "session_ended");
    let cleared = forged.set_cookie(SESSION).expect("the dead cookie cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_cookie_attributes(&cleared, "SameSite=Lax");
    assert!(
        none.set_cookie(SESSION).is_none(),
        "nothing to clear without a cookie"
    );
    // A session that ended (idle past its timeout) says only that.
    let _ = owner(&w).await;
    let token = sign_in(&w, OWNER, OWNER_PW, None).await;
    w.clock.advance(31 * 86_400);
    let idle = send(&w.app, get_with("/me", &[(SESSION, &token)])).await;
    assert_eq!(idle.status, StatusCode::UNAUTHORIZED);
    assert_eq!(idle.code(), "session_ended");
    assert!(
        !idle.body.contains("expired") && !idle.body.contains("idle"),
        "the reason is not told: {}",
        idle.body
    );
}

#[tokio::test]
async fn the_pending_login_is_carried_in_a_signed_short_lived_cookie() {
    let w = world();
    let (org, key) = owner_with_app(&w).await;
    let answer = send(
        &w.app,
        post_form("/login", &[], &[("login", OWNER), ("password", OWNER_PW)]),
    )
    .await;
    assert_eq!(answer.body, "second_factor");
    assert!(answer.set_cookie(SESSION).is_none(), "no session yet");
    let line = answer.set_cookie(LOGIN).unwrap();
    assert_cookie_attributes(&line, "SameSite=Lax");
    let ttl = w.auth.config().ticket_ttl();
    assert!(line.contains(&format!("Max-Age={ttl}")), "{line}");
    let value = answer.cookie(LOGIN).unwrap();
    assert!(!value.contains(OWNER_PW) && !value.contains(OWNER));
    let fields: Vec<&str> = value.split('.').collect();
    assert_eq!(fields.len(), 6, "{value}");
    assert!(BearerToken::parse(fields[1]).is_ok(), "the opaque ticket");
    assert_eq!(fields[2], org.to_string());

    let info = send(&w.app, get_with("/login/pending", &[(LOGIN, &value)])).await;
    assert_eq!(info.body, format!("SecondFactor Some({org:?})"));
    let step = w
        .auth
        .login_to(org, OWNER, Password::from(OWNER_PW))
        .await
        .unwrap();
    let cookie = w.web.login_cookies(&step);
    let cookie = cookie.values()[0].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    assert_eq!(
        w.web.csrf_token_for_login(&step).unwrap().value(),
        send(&w.app, get_with("/csrf", &[(LOGIN, cookie)]))
            .await
            .body,
        "the token of the step just reached"
    );

    // Altered: another step, another organisation, another expiry, another signature.
    let altered = |i: usize, to: &str| {
        let mut f = fields.clone();
        f[i] = to;
        f.join(".")
    };
    let other_org = OrgId::new(42).to_string();
    for forged in [
        altered(3, "p"),
        altered(2, &other_org),
        altered(4, &(T0 + 999_999).to_string()),
        altered(5, &"0".repeat(64)),
        "v1.garbage".to_owned(),
    ] {
        let info = send(&w.app, get_with("/login/pending", &[(LOGIN, &forged)])).await;
        assert_eq!(info.body, "none", "{forged}");
        let token = send(&w.app, get_with("/csrf", &[(LOGIN, &forged)])).await;
        assert_eq!(token.status, StatusCode::UNAUTHORIZED);
    }
    // A cookie signed with another key.
    let (other, _) = service();
    let stranger = WebAuth::new(
        other,
        WebConfig::builder(WebKey::from_bytes(&[8; 32]).unwrap(), ORIGIN)
            .build()
            .unwrap(),
    );
    let step = w
        .auth
        .login_to(org, OWNER, Password::from(OWNER_PW))
        .await
        .unwrap();
    let foreign = stranger.login_cookies(&step);
    let foreign = foreign.values()[0].to_str().unwrap();
    let foreign = foreign
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1;
    let info = send(&w.app, get_with("/login/pending", &[(LOGIN, foreign)])).await;
    assert_eq!(info.body, "none", "another key's signature");

    // The second factor through the cookie: a wrong code, then the right one.
    let token = send(&w.app, get_with("/csrf", &[(LOGIN, &value)]))
        .await
        .body;
    w.clock.advance(30);
    let right = code(&key, w.clock.now());
    let wrong: String = right
        .bytes()
        .map(|b| char::from(b'0' + (b - b'0' + 1) % 10))
        .collect();
    let refused = send(
        &w.app,
        post_form(
            "/login/totp",
            &[(LOGIN, &value)],
            &[("code", &wrong), ("csrf_token", &token)],
        ),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.code(), "invalid_credentials");
    let done = send(
        &w.app,
        post_form(
            "/login/totp",
            &[(LOGIN, &value)],
            &[("code", &right), ("csrf_token", &token)],
        ),
    )
    .await;
    assert_eq!(done.body, "granted");
    let session = done.cookie(SESSION).unwrap();
    assert!(done.set_cookie(LOGIN).unwrap().contains("Max-Age=0"));
    assert_eq!(
        w.auth.authenticate(&session).await.unwrap().aal(),
        authcore::policy::Aal::Aal2
    );
    // The ticket is spent: the cookie no longer leads anywhere.
    let again = send(
        &w.app,
        post_form(
            "/login/totp",
            &[(LOGIN, &value)],
            &[("code", &right), ("csrf_token", &token)],
        ),
    )
    .await;
    assert_eq!(again.code(), "invalid_credentials");

    // Expired with its ticket.
    let answer = send(
        &w.app,
        post_form("/login", &[], &[("login", OWNER), ("password", OWNER_PW)]),
    )
    .await;
    let value = answer.cookie(LOGIN).unwrap();
    w.clock.advance(ttl);
    let late = send(
        &w.app,
        post_form(
            "/login/totp",
            &[(LOGIN, &value)],
            &[("code", &code(&key, w.clock.now())), ("csrf_token", "00")],
        ),
    )
    .await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED);
    assert_eq!(late.code(), "login_expired");
    // No pending login at all.
    let none = send(&w.app, post_form("/login/totp", &[], &[("code", "123456")])).await;
    assert_eq!(none.code(), "login_expired");
}

#[tokio::test]
async fn the_token_rotates_on_step_up_and_freshness_is_guarded() {
    let w = world();
    let (_, key) = owner_with_app(&w).await;
    let token = sign_in(&w, OWNER, OWNER_PW, Some(&key)).await;
    assert_eq!(
        send(&w.app, get_with("/fresh", &[(SESSION, &token)]))
            .await
            .body,
        "fresh"
    );
    assert_eq!(
        send(&w.app, get_with("/fresh60", &[(SESSION, &token)]))
            .await
            .body,
        "fresh60"
    );
    w.clock.advance(61);
    let stale = send(&w.app, get_with("/fresh60", &[(SESSION, &token)])).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stale.code(), "step_up_required");
    assert_eq!(
        send(&w.app, get_with("/fresh", &[(SESSION, &token)]))
            .await
            .body,
        "fresh"
    );
    w.clock.advance(WebConfig::DEFAULT_STEP_UP_MAX_AGE);
    let stale = send(&w.app, get_with("/fresh", &[(SESSION, &token)])).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stale.code(), "step_up_required");
    assert!(
        stale.set_cookie(SESSION).is_none(),
        "a step-up keeps the session and its cookie"
    );
    assert_eq!(
        stale.headers[header::WWW_AUTHENTICATE],
        "Cookie realm=\"authcore\", error=\"insufficient_user_authentication\"",
        "the step-up answer is told apart from a sign-in"
    );
    // Still signed in, only not fresh.
    assert_eq!(
        send(&w.app, get_with("/me", &[(SESSION, &token)]))
            .await
            .status,
        StatusCode::OK
    );

    // Step up: a new token in a new cookie, the old one dead.
    let csrf = send(&w.app, get_with("/csrf", &[(SESSION, &token)]))
        .await
        .body;
    w.clock.advance(30);
    let up = send(
        &w.app,
        post_form(
            "/step-up",
            &[(SESSION, &token)],
            &[
                ("password", OWNER_PW),
                ("code", &code(&key, w.clock.now())),
                ("csrf_token", &csrf),
            ],
        ),
    )
    .await;
    assert_eq!(up.body, "stepped up");
    let line = up.set_cookie(SESSION).unwrap();
    assert_cookie_attributes(&line, "SameSite=Lax");
    let rotated = up.cookie(SESSION).unwrap();
    assert_ne!(rotated, token, "the token rotated");
    assert_eq!(
        send(&w.app, get_with("/me", &[(SESSION, &token)]))
            .await
            .code(),
        "session_ended",
        "the token before the step-up"
    );
    assert_eq!(
        send(&w.app, get_with("/fresh", &[(SESSION, &rotated)]))
            .await
            .body,
        "fresh"
    );
    // The CSRF token follows the session token.
    let new_csrf = send(&w.app, get_with("/csrf", &[(SESSION, &rotated)]))
        .await
        .body;
    assert_ne!(new_csrf, csrf);
    let old_form = send(
        &w.app,
        post_form(
            "/note",
            &[(SESSION, &rotated)],
            &[("note", "x"), ("csrf_token", &csrf)],
        ),
    )
    .await;
    assert_eq!(old_form.code(), "csrf");
}

#[tokio::test]
async fn every_guard_refuses_as_documented() {
    let w = world();
    // Signed out: every guard is 401.
    for path in [
        "/me",
        "/aal2",
        "/fresh",
        "/fresh60",
        "/members",
        "/reports",
        "/jobs/own",
        "/jobs",
        "/csrf",
    ] {
        let answer = send(&w.app, get_with(path, &[])).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(answer.code(), "signed_out", "{path}");
    }
    let (_, key) = owner_with_app(&w).await;
    let owner_grant_token = sign_in(&w, OWNER, OWNER_PW, Some(&key)).await;
    let grant = w.auth.authenticate(&owner_grant_token).await.unwrap();
    // An AAL1 session of the owner (a password-only session is AAL1 by construction:
    // Uma, a User without MFA, signs in with her password).
    let new = w.auth.add_member(&grant, MEMBER, Role::User).await.unwrap();
    let temp = new.temporary_password.expose_secret().to_owned();
    let step = w
        .auth
        .login_to(grant.org(), MEMBER, Password::from(temp.as_str()))
        .await
        .unwrap();
    let ticket = BearerToken::parse(&step.ticket().unwrap().expose_secret()).unwrap();
    let _ = w
        .auth
        .change_password_at_login(grant.org(), &ticket, Password::from(MEMBER_PW))
        .await
        .unwrap();
    let uma = sign_in(&w, MEMBER, MEMBER_PW, None).await;

    // The owner at AAL2: everything.
    for (path, body) in [
        ("/aal2", "aal2"),
        ("/members", "members"),
        ("/reports", "reports"),
        ("/jobs", "all jobs"),
        ("/jobs/own", "own jobs"),
    ] {
        let answer = send(&w.app, get_with(path, &[(SESSION, &owner_grant_token)])).await;
        assert_eq!(answer.body, body, "{path}");
    }
    // Uma, a User at AAL1: her own jobs only.
    let refusals = [
        ("/aal2", StatusCode::UNAUTHORIZED, "step_up_required"),
        ("/fresh", StatusCode::UNAUTHORIZED, "step_up_required"),
        ("/members", StatusCode::FORBIDDEN, "forbidden"),
        ("/reports", StatusCode::FORBIDDEN, "forbidden"),
        ("/jobs", StatusCode::FORBIDDEN, "forbidden"),
    ];
    for (path, status, code) in refusals {
        let answer = send(&w.app, get_with(path, &[(SESSION, &uma)])).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        assert_eq!(answer.code(), code, "{path}");
    }
    assert_eq!(
        send(&w.app, get_with("/jobs/own", &[(SESSION, &uma)]))
            .await
            .body,
        "own jobs"
    );
    // Promoted to Admin, still at AAL1: the administrative permission asks for a step-up; the
    // role is read at the request, not frozen in the session.
    w.auth
        .change_role(&grant, new.person, Role::Admin)
        .await
        .unwrap();
    let answer = send(&w.app, get_with("/members", &[(SESSION, &uma)])).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    assert_eq!(answer.code(), "step_up_required");
    assert_eq!(
        send(&w.app, get_with("/reports", &[(SESSION, &uma)]))
            .await
            .body,
        "reports"
    );
    // Deactivated: refused at once.
    w.auth.deactivate_member(&grant, new.person).await.unwrap();
    let answer = send(&w.app, get_with("/jobs/own", &[(SESSION, &uma)])).await;
    assert!(answer.status.is_client_error(), "{}", answer.body);
    assert_ne!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn form_posts_need_the_origin_and_the_token() {
    let w = world();
    let _ = owner(&w).await;
    let token = sign_in(&w, OWNER, OWNER_PW, None).await;
    let csrf = send(&w.app, get_with("/csrf", &[(SESSION, &token)]))
        .await
        .body;
    assert_eq!(csrf.len(), 64, "{csrf}");
    let cookies = [(SESSION, token.as_str())];
    let good = [("note", "hello"), ("csrf_token", csrf.as_str())];

    // The origin check, before anything else.
    for origin in [
        Some("https://evil.example"),
        Some("null"),
        Some("https://app.example.evil.example"),
        Some("http://app.example"),
        None,
    ] {
        let answer = send(&w.app, post_from("/note", origin, &cookies, &good)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{origin:?}");
        assert_eq!(answer.code(), "csrf", "{origin:?}");
    }
    let referer = |r: &str| {
        Request::post("/note")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::REFERER, r)
            .header(header::COOKIE, cookie_header(&cookies))
            .body(Body::from(form(&good)))
            .unwrap()
    };
    assert_eq!(
        send(&w.app, referer("https://app.example/settings"))
            .await
            .body,
        "hello",
        "a same-origin Referer stands in for Origin"
    );
    for bad in [
        "https://app.example.evil.example/",
        "https://evil.example/https://app.example/",
    ] {
        assert_eq!(send(&w.app, referer(bad)).await.code(), "csrf", "{bad}");
    }
    // Safe methods are not checked.
    assert_eq!(
        send(&w.app, get_with("/me", &cookies)).await.status,
        StatusCode::OK
    );

    // The token.
    let missing = send(&w.app, post_form("/note", &cookies, &[("note", "hello")])).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert_eq!(missing.code(), "csrf");
    let mut flipped = csrf.clone().into_bytes();
    flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    for wrong in [flipped.as_str(), "", "zz", &csrf[..32], "not hex at all"] {
        let answer = send(
            &w.app,
            post_form(
                "/note",
                &cookies,
                &[("note", "hello"), ("csrf_token", wrong)],
            ),
        )
        .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{wrong:?}");
        assert_eq!(answer.code(), "csrf");
    }
    // Another session's token.
    let other = sign_in(&w, OWNER, OWNER_PW, None).await;
    let other_csrf = send(&w.app, get_with("/csrf", &[(SESSION, &other)]))
        .await
        .body;
    assert_ne!(other_csrf, csrf);
    let answer = send(
        &w.app,
        post_form(
            "/note",
            &cookies,
            &[("note", "hello"), ("csrf_token", &other_csrf)],
        ),
    )
    .await;
    assert_eq!(answer.code(), "csrf", "another session's token");
    assert_eq!(
        send(&w.app, post_form("/note", &cookies, &good)).await.body,
        "hello"
    );

    // A script's header.
    let api = |t: &str| {
        Request::post("/api")
            .header(header::ORIGIN, ORIGIN)
            .header(header::COOKIE, cookie_header(&cookies))
            .header(WebConfig::CSRF_HEADER, t)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&w.app, api(&csrf)).await.body, "api");
    assert_eq!(send(&w.app, api(&other_csrf)).await.code(), "csrf");
    let no_header = Request::post("/api")
        .header(header::ORIGIN, ORIGIN)
        .header(header::COOKIE, cookie_header(&cookies))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&w.app, no_header).await.code(), "csrf");
    // A malformed form, past the token: 400.
    let answer = send(
        &w.app,
        post_form("/note", &cookies, &[("csrf_token", csrf.as_str())]),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_eq!(answer.code(), "bad_request");
    assert_eq!(answer.json()["message"], "the form could not be read");
}

#[tokio::test]
async fn the_error_table_in_responses() {
    let w = world();
    for (i, (error, class)) in errors().into_iter().enumerate() {
        let shown = error.to_string();
        let answer = send(&w.app, get_with(&format!("/error/{i}"), &[])).await;
        assert_eq!(answer.status.as_u16(), class.status_code(), "{shown}");
        assert_eq!(answer.code(), class.code(), "{shown}");
        let json = answer.json();
        let message = json["message"].as_str().unwrap();
        match class {
            ErrorClass::Unauthenticated | ErrorClass::SessionEnded => {
                assert_eq!(
                    answer.headers[header::WWW_AUTHENTICATE],
                    "Cookie realm=\"authcore\""
                );
                assert_eq!(message, class.public_message());
            }
            ErrorClass::StepUpRequired => {
                assert!(
                    answer.headers[header::WWW_AUTHENTICATE]
                        .to_str()
                        .unwrap()
                        .contains("insufficient_user_authentication")
                );
            }
            ErrorClass::Internal | ErrorClass::Unavailable => {
                assert_eq!(message, class.public_message(), "no detail");
                assert!(!answer.body.contains("db.internal") && !answer.body.contains("smtp"));
            }
            ErrorClass::PasswordRefused(_) => {
                assert_eq!(json["reason"], "too_short");
                assert_eq!(message, shown, "the reason is the person's to see");
            }
            ErrorClass::Forbidden | ErrorClass::Conflict | ErrorClass::NotFound => {
                assert_eq!(message, shown);
            }
            _ => {}
        }
        if class.status_code() != 401 {
            assert!(
                !answer.headers.contains_key(header::WWW_AUTHENTICATE),
                "{shown}"
            );
        }
        assert!(!answer.headers.contains_key(header::RETRY_AFTER), "{shown}");
    }
}

#[tokio::test]
async fn throttled_answers_carry_retry_after_in_seconds() {
    let w = world();
    let answer = send(&w.app, get_with("/throttled", &[])).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        answer.headers[header::RETRY_AFTER],
        "30",
        "on the service's clock"
    );
    assert_eq!(answer.json()["retry_after"], 30);
    assert_eq!(answer.code(), "throttled");
    // `ServiceError` returned as is: the system clock.
    let answer = send(&w.app, get_with("/throttled-system", &[])).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    let seconds: u64 = answer.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((41..=42).contains(&seconds), "{seconds}");
    // Wrong codes at login until the throttle answers.
    let _key = owner_with_app(&w).await;
    let answer = send(
        &w.app,
        post_form("/login", &[], &[("login", OWNER), ("password", OWNER_PW)]),
    )
    .await;
    let pending = answer.cookie(LOGIN).unwrap();
    let csrf = send(&w.app, get_with("/csrf", &[(LOGIN, &pending)]))
        .await
        .body;
    let mut last = None;
    for _ in 0..20 {
        let answer = send(
            &w.app,
            post_form(
                "/login/totp",
                &[(LOGIN, &pending)],
                &[("code", "000000"), ("csrf_token", &csrf)],
            ),
        )
        .await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            last = Some(answer);
            break;
        }
        assert_eq!(answer.code(), "invalid_credentials");
    }
    let answer = last.expect("the throttle answers within 20 wrong codes");
    let seconds: u64 = answer.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&seconds), "{seconds}");
    assert_eq!(answer.json()["retry_after"], seconds);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let w = world();
    for request in [
        get_with("/me", &[]),
        get_with("/error/0", &[]),
        post_from("/note", Some("https://evil.example"), &[], &[]),
    ] {
        let answer = send(&w.app, request).await;
        assert_eq!(answer.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(answer.headers[header::REFERRER_POLICY], "same-origin");
        assert_eq!(answer.headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(
            answer.headers[header::CONTENT_SECURITY_POLICY],
            "frame-ancestors 'none'"
        );
        assert_eq!(answer.headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            answer.headers[header::STRICT_TRANSPORT_SECURITY],
            "max-age=31536000; includeSubDomains"
        );
    }
    let cached = send(&w.app, get_with("/cached", &[])).await;
    assert_eq!(
        cached.headers[header::CACHE_CONTROL],
        "max-age=60",
        "a handler's own choice stands"
    );
    assert_eq!(cached.headers[header::X_FRAME_OPTIONS], "DENY");
}

#[tokio::test]
async fn without_the_layer_the_extractors_answer_500() {
    let (auth, _) = service();
    let app = routes().layer(Extension(auth));
    let answer = send(&app, get_with("/me", &[(SESSION, "x")])).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.code(), "not_configured");
}

#[tokio::test]
async fn mfa_turned_on_in_the_session_rotates_the_token_and_raises_it() {
    let w = world();
    let _ = owner(&w).await;
    let token = sign_in(&w, OWNER, OWNER_PW, None).await;
    let cookies = [(SESSION, token.as_str())];
    let csrf = send(&w.app, get_with("/csrf", &cookies)).await.body;
    assert_eq!(
        send(&w.app, get_with("/aal2", &cookies)).await.code(),
        "step_up_required"
    );
    let manual = send(
        &w.app,
        post_form("/mfa/start", &cookies, &[("csrf_token", &csrf)]),
    )
    .await
    .body;
    // The page reloaded: the same secret.
    let again = send(
        &w.app,
        post_form("/mfa/start", &cookies, &[("csrf_token", &csrf)]),
    )
    .await
    .body;
    assert_eq!(manual, again);
    let key = SecretKey::from_base32(&manual).unwrap();
    let confirmed = send(
        &w.app,
        post_form(
            "/mfa/confirm",
            &cookies,
            &[("code", &code(&key, w.clock.now())), ("csrf_token", &csrf)],
        ),
    )
    .await;
    assert_eq!(confirmed.body, "confirmed");
    let done = send(
        &w.app,
        post_form("/mfa/acknowledge", &cookies, &[("csrf_token", &csrf)]),
    )
    .await;
    assert_eq!(done.body, "acknowledged");
    let rotated = done.cookie(SESSION).expect("a new session cookie");
    assert_ne!(rotated, token);
    assert_eq!(
        send(&w.app, get_with("/me", &cookies)).await.code(),
        "session_ended",
        "the token from before the change"
    );
    assert_eq!(
        send(&w.app, get_with("/aal2", &[(SESSION, &rotated)]))
            .await
            .body,
        "aal2",
        "raised to AAL2"
    );
}

#[tokio::test]
async fn a_pending_login_at_another_step_is_refused() {
    let w = world();
    let (_, key) = owner_with_app(&w).await;
    let token = sign_in(&w, OWNER, OWNER_PW, Some(&key)).await;
    let admin = w.auth.authenticate(&token).await.unwrap();
    let new = w.auth.add_member(&admin, MEMBER, Role::User).await.unwrap();
    let temp = new.temporary_password.expose_secret().to_owned();
    let answer = send(
        &w.app,
        post_form("/login", &[], &[("login", MEMBER), ("password", &temp)]),
    )
    .await;
    assert_eq!(answer.body, "change_password");
    let pending = answer.cookie(LOGIN).unwrap();
    let info = send(&w.app, get_with("/login/pending", &[(LOGIN, &pending)])).await;
    assert!(info.body.starts_with("ChangePassword"), "{}", info.body);
    let csrf = send(&w.app, get_with("/csrf", &[(LOGIN, &pending)]))
        .await
        .body;
    let answer = send(
        &w.app,
        post_form(
            "/login/totp",
            &[(LOGIN, &pending)],
            &[("code", "123456"), ("csrf_token", &csrf)],
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.code(),
        "login_expired",
        "the second-factor page at another step"
    );
}

#[tokio::test]
async fn client_labels_come_from_the_user_agent_and_only_a_trusted_address_header() {
    let labelled = |w: &World, token: &str, ip: Option<&str>| {
        let mut request = Request::post("/label")
            .header(header::ORIGIN, ORIGIN)
            .header(header::USER_AGENT, "Firefox on Linux")
            .header(header::COOKIE, cookie_header(&[(SESSION, token)]));
        if let Some(ip) = ip {
            request = request.header("x-forwarded-for", ip);
        }
        let request = request.body(Body::empty()).unwrap();
        let app = w.app.clone();
        async move { send(&app, request).await.body }
    };
    // Not trusted: the header is ignored.
    let w = world();
    let _ = owner(&w).await;
    let token = sign_in(&w, OWNER, OWNER_PW, None).await;
    assert_eq!(
        labelled(&w, &token, Some("203.0.113.9")).await,
        "Some(\"Firefox on Linux\") None"
    );
    // Trusted: the entry the nearest proxy added, if it is an address.
    let config = WebConfig::builder(WebKey::from_bytes(&[7; 32]).unwrap(), ORIGIN)
        .trust_client_ip_header("x-forwarded-for")
        .build()
        .unwrap();
    let w = world_with(config);
    let _ = owner(&w).await;
    let token = sign_in(&w, OWNER, OWNER_PW, None).await;
    assert_eq!(
        labelled(&w, &token, Some("198.51.100.1, 203.0.113.9")).await,
        "Some(\"Firefox on Linux\") Some(\"203.0.113.9\")"
    );
    assert_eq!(
        labelled(&w, &token, Some("<script>")).await,
        "Some(\"Firefox on Linux\") None"
    );
    let listed = w.auth.sessions(&token).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|l| l.labels.user_agent() == Some("Firefox on Linux"))
    );
    assert!(
        WebConfig::builder(WebKey::from_bytes(&[7; 32]).unwrap(), ORIGIN)
            .trust_client_ip_header("not a header")
            .build()
            .is_err()
    );
}
