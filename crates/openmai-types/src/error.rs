use http::StatusCode;

/// Declares the error table once: every user-visible failure, its status and the text
/// Django REST Framework sends for it, so MaiAgent clients parse our errors unchanged.
macro_rules! error_codes {
    ($($code:ident => $status:ident, $detail:literal;)*) => {
        /// Every failure a client can see. The table in this macro is the only place that
        /// decides status codes and default texts.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $($code),* }

        impl Code {
            /// All codes, for documentation and tests.
            pub const ALL: &[Code] = &[$(Code::$code),*];

            pub fn status(self) -> StatusCode {
                match self { $(Code::$code => StatusCode::$status),* }
            }

            /// The DRF default text (`detail`) for this failure.
            pub fn default_detail(self) -> &'static str {
                match self { $(Code::$code => $detail),* }
            }

            /// Stable snake_case name, used in logs and docs.
            pub fn name(self) -> &'static str {
                match self { $(Code::$code => stringify!($code)),* }
            }
        }
    };
}

error_codes! {
    NotAuthenticated     => UNAUTHORIZED, "Authentication credentials were not provided.";
    InvalidApiKeyFormat  => UNAUTHORIZED, "Invalid API key format.";
    AuthenticationFailed => UNAUTHORIZED, "Incorrect authentication credentials.";
    TokenNotValid        => UNAUTHORIZED, "Token is invalid or expired";
    PermissionDenied     => FORBIDDEN, "You do not have permission to perform this action.";
    NotFound             => NOT_FOUND, "Not found.";
    InvalidPage          => NOT_FOUND, "Invalid page.";
    MethodNotAllowed     => METHOD_NOT_ALLOWED, "Method not allowed.";
    UnsupportedMediaType => UNSUPPORTED_MEDIA_TYPE, "Unsupported media type in request.";
    ParseError           => BAD_REQUEST, "Malformed request.";
    ValidationError      => BAD_REQUEST, "Invalid input.";
    Conflict             => CONFLICT, "The request conflicts with the current state.";
    PayloadTooLarge      => PAYLOAD_TOO_LARGE, "Request body is too large.";
    Throttled            => TOO_MANY_REQUESTS, "Request was throttled.";
    Internal             => INTERNAL_SERVER_ERROR, "A server error occurred.";
    ServiceUnavailable   => SERVICE_UNAVAILABLE, "Service temporarily unavailable, try again later.";
    // Failures of an upstream model provider (LLM, embeddings, reranker). They are the
    // provider's fault or the operator's configuration, never the client's request, so they
    // are gateway errors: 502 when the provider failed or refused, 504 when it was too slow,
    // 503 when its quota says to come back later (429 would blame the client's own rate).
    ProviderUnavailable     => BAD_GATEWAY, "The model provider could not be reached.";
    ProviderTimeout         => GATEWAY_TIMEOUT, "The model provider did not answer in time.";
    ProviderRejected        => BAD_GATEWAY, "The model provider refused the request.";
    ProviderRateLimited     => SERVICE_UNAVAILABLE, "The model provider is rate limiting requests, try again later.";
    ProviderInvalidResponse => BAD_GATEWAY, "The model provider sent an invalid response.";
    // The chosen model cannot do what was asked (e.g. embeddings from a chat-only provider).
    ModelUnsupported        => BAD_REQUEST, "The selected model does not support this operation.";
}

/// Implemented by each crate's error enum so the HTTP layer can turn any of them into the
/// right status and body (the pattern of meilisearch's `ErrorCode`).
pub trait ErrorCode {
    fn error_code(&self) -> Code;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_an_error_status_and_a_sentence() {
        for code in Code::ALL {
            assert!(code.status().is_client_error() || code.status().is_server_error());
            let detail = code.default_detail();
            assert!(detail.ends_with('.') || *code == Code::TokenNotValid, "{detail}");
        }
    }

    #[test]
    fn seed_authentication_texts_are_exact() {
        assert_eq!(
            Code::NotAuthenticated.default_detail(),
            "Authentication credentials were not provided."
        );
        assert_eq!(Code::InvalidApiKeyFormat.default_detail(), "Invalid API key format.");
        assert_eq!(Code::InvalidPage.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn provider_failures_are_gateway_errors() {
        assert_eq!(Code::ProviderUnavailable.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(Code::ProviderRejected.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(Code::ProviderInvalidResponse.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(Code::ProviderTimeout.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(Code::ProviderRateLimited.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(Code::ModelUnsupported.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            Code::ProviderTimeout.default_detail(),
            "The model provider did not answer in time."
        );
    }
}
