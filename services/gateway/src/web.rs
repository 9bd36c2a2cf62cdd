//! The web app: one page (`/`) and its script and style, compiled into the
//! binary, that drive the REST API from the browser; and the session it
//! signs in with.
//!
//! Signing in (`POST /session`, a form with the API key) checks the key
//! and keeps it in an `HttpOnly`, `SameSite=Strict` cookie, which the REST
//! API accepts in place of `Authorization`; `POST /session/end` signs out.
//! Cross-site requests are refused three ways: the cookie is never sent
//! with them (`SameSite=Strict`); a request the cookie signs that changes
//! anything must carry the [`CSRF_HEADER`] the app's script adds (a form on
//! another site cannot); and the session routes refuse a request whose
//! `Sec-Fetch-Site` or `Origin` names another site.

use axum::{
    Form, Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;

use crate::{error::ApiError, jobs::Jobs};

/// The cookie the web app's session is kept in.
pub const SESSION_COOKIE: &str = "steno_session";
/// The header the web app's script sends with every request that changes
/// something.
pub const CSRF_HEADER: &str = "x-steno-csrf";
pub const CSRF_REFUSAL: &str = "a request signed in by the web app's session cookie must carry the X-Steno-CSRF header (cross-site requests are refused)";

/// What the page may load: only itself (no inline script, no other site).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     media-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes() -> Router<Jobs> {
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", include_str!("../assets/web/index.html")) }))
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", include_str!("../assets/web/app.js")) }),
        )
        .route("/app.css", get(|| async { asset("text/css; charset=utf-8", include_str!("../assets/web/app.css")) }))
        .route("/session", post(sign_in))
        .route("/session/end", post(sign_out))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

#[derive(Deserialize)]
struct SignIn {
    key: String,
}

/// `POST /session` (form `key=`): a valid key is kept in the session
/// cookie and the browser sent to `/`; another goes back to `/` told so.
async fn sign_in(
    State(jobs): State<Jobs>,
    headers: HeaderMap,
    form: Result<Form<SignIn>, axum::extract::rejection::FormRejection>,
) -> Response {
    if !same_site(&headers) {
        return ApiError::Forbidden("sign in from steno's own page".into()).into_response();
    }
    let key = form.map(|Form(form)| form.key.trim().to_owned()).unwrap_or_default();
    if key.is_empty() {
        return redirect("/?signin=refused", None);
    }
    match jobs.authenticate(Some(&key)).await {
        Ok(_) if jobs.auth.keys_required() => {
            let secure = if forwarded_https(&headers) { "; Secure" } else { "" };
            redirect("/", Some(format!("{SESSION_COOKIE}={key}; Path=/; HttpOnly; SameSite=Strict{secure}")))
        }
        Ok(_) => redirect("/", None),
        Err(ApiError::Unauthenticated) => redirect("/?signin=refused", None),
        Err(e) => e.into_response(),
    }
}

/// `POST /session/end`: forgets the session cookie.
async fn sign_out(headers: HeaderMap) -> Response {
    if !same_site(&headers) {
        return ApiError::Forbidden("sign out from steno's own page".into()).into_response();
    }
    redirect("/", Some(format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")))
}

fn redirect(to: &'static str, cookie: Option<String>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
    if let Some(value) = cookie.and_then(|c| HeaderValue::try_from(c).ok()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// The API key in the request's session cookie.
pub fn session_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

pub fn has_csrf_header(headers: &HeaderMap) -> bool {
    headers.contains_key(CSRF_HEADER)
}

/// Whether a browser sent the request from this site (requests without
/// `Sec-Fetch-Site` or `Origin`, from other clients, pass).
fn same_site(headers: &HeaderMap) -> bool {
    let value = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match (value(header::ORIGIN), value(header::HOST)) {
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(_, authority)| authority == host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Whether a proxy in front says the browser came over HTTPS (the cookie
/// is then `Secure`).
fn forwarded_https(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (header::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "theme=dark; steno_session=steno_abc_def; other=1")]);
        assert_eq!(session_key(&h).as_deref(), Some("steno_abc_def"));
        assert_eq!(session_key(&headers(&[("cookie", "steno_session=")])), None);
        assert_eq!(session_key(&headers(&[("cookie", "xsteno_session=a")])), None);
        assert_eq!(session_key(&HeaderMap::new()), None);
    }

    #[test]
    fn only_this_site_may_sign_in_or_out() {
        assert!(same_site(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_site(&headers(&[("sec-fetch-site", "cross-site"), ("origin", "http://a:1"), ("host", "a:1")])));
        assert!(same_site(&headers(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")])));
        assert!(!same_site(&headers(&[("origin", "https://evil.example"), ("host", "127.0.0.1:8080")])));
        assert!(same_site(&HeaderMap::new()), "curl and other clients send neither");
    }
}
