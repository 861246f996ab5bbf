//! Errors raised while reading the SDL into a catalog.

/// Why an SDL document could not become a catalog. Each message names the type and field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The SDL is not syntactically valid GraphQL.
    #[error("SDL syntax error: {0}")]
    Syntax(String),
    /// The SDL is valid GraphQL but breaks a rule of the hub's model.
    #[error("{location}: {message}")]
    Model {
        /// `Type` or `Type.field`.
        location: String,
        /// What is wrong.
        message: String,
    },
}

impl SchemaError {
    pub(crate) fn model(location: impl Into<String>, message: impl Into<String>) -> Self {
        SchemaError::Model {
            location: location.into(),
            message: message.into(),
        }
    }
}
