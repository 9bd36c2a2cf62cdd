//! One error type for every gateway API: it maps to an HTTP status and a
//! gRPC code. Internal errors are logged once here and answered generically.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request (bad JSON, bad cursor): 400.
    #[error("{0}")]
    BadRequest(String),
    /// Well-formed but invalid (names the field): 422.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    /// Refused whoever asks (a cross-site request): 403.
    #[error("{0}")]
    Forbidden(String),
    /// The job is in a state that does not allow this: 409.
    #[error("{0}")]
    Conflict(String),
    /// A body over its route's limit: 413.
    #[error("{0}")]
    TooLarge(String),
    /// No key, or one that is unknown or revoked: 401.
    #[error(
        "a valid API key is required: send it as `Authorization: Bearer <key>`; an operator creates one with `steno keys create --tenant NAME`"
    )]
    Unauthenticated,
    /// Over a tenant's limit: 429 with `Retry-After`.
    #[error("{message}; retry in {retry_after_secs} s")]
    TooManyRequests { message: String, retry_after_secs: u64 },
    /// A dependency (NATS, Postgres) is not answering: 503.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { field, message: message.into() }
    }

    pub fn http_status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn grpc_code(&self) -> tonic::Code {
        match self {
            Self::BadRequest(_) | Self::Invalid { .. } => tonic::Code::InvalidArgument,
            Self::NotFound(_) => tonic::Code::NotFound,
            Self::Forbidden(_) => tonic::Code::PermissionDenied,
            Self::Conflict(_) => tonic::Code::FailedPrecondition,
            Self::TooLarge(_) => tonic::Code::OutOfRange,
            Self::Unauthenticated => tonic::Code::Unauthenticated,
            Self::TooManyRequests { .. } => tonic::Code::ResourceExhausted,
            Self::Unavailable(_) => tonic::Code::Unavailable,
            Self::Internal(_) => tonic::Code::Internal,
        }
    }

    /// The message a client sees.
    pub fn public_message(&self) -> String {
        if let Self::Internal(e) = self {
            tracing::error!(error = format!("{e:#}"), "internal error");
        }
        self.to_string()
    }

    /// A job id from a client: one that cannot be a job's id is a job that
    /// does not exist (parsed once, where a request comes in).
    pub fn job_id(id: &str) -> Result<steno_runtime::JobId, Self> {
        steno_runtime::JobId::parse(id).map_err(|_| Self::NotFound(format!("job {id} does not exist")))
    }

    /// A dependency failed: the detail is logged, the client is told what
    /// could not be done (NATS and SQL error text never reaches it).
    pub fn unavailable(what: &str, e: &anyhow::Error) -> Self {
        tracing::warn!(error = format!("{e:#}"), "{what}");
        Self::Unavailable(format!("{what}; try again shortly"))
    }

    fn field(&self) -> Option<&'static str> {
        match self {
            Self::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if crate::store::is_unavailable(&e) {
            tracing::warn!(error = %e, "database unavailable");
            return Self::Unavailable("the job database is not available; try again".into());
        }
        Self::Internal(e.into())
    }
}

impl ApiError {
    /// The response with `body` as its JSON (the OpenAI-compatible routes
    /// answer in OpenAI's shape), and the headers the error calls for.
    pub fn response_with(self, status: StatusCode, body: serde_json::Value) -> Response {
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match self {
            Self::Unauthenticated => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::TooManyRequests { retry_after_secs, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            _ => {}
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.http_status();
        let body = serde_json::json!({ "error": self.public_message(), "field": self.field() });
        self.response_with(status, body)
    }
}

impl From<ApiError> for tonic::Status {
    fn from(e: ApiError) -> Self {
        tonic::Status::new(e.grpc_code(), e.public_message())
    }
}
