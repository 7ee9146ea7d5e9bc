/// A rule a request field broke: a stable `code`, the dotted `param` and a human sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub code: &'static str,
    pub param: String,
    pub message: String,
}

impl FieldError {
    pub fn new(code: &'static str, param: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code, param: param.into(), message: message.into() }
    }

    /// The same error, reported under a parent path (`number` → `card.number`).
    pub fn under(mut self, parent: &str) -> Self {
        self.param = format!("{parent}.{}", self.param);
        self
    }
}
