use super::card_vault::UnsealError;
use super::{CardVault, Keyring};

/// Short secrets kept for an idempotent replay (a checkout session's client secret), sealed with
/// AES-256-GCM under keys derived from the code key (`Keyring::derived`), never the card key: the
/// function that creates sessions and serves the public page holds the code key only. A sealed
/// secret reads `v1.<key id>.<base64>` and is bound to its context (the session id).
#[derive(Clone)]
pub struct KeptSecrets(CardVault);

/// What the derived keys are for (HKDF's `info`).
const INFO: &str = "payments/kept-secrets/v1";

impl KeptSecrets {
    pub fn new(code_keys: &Keyring) -> Self {
        Self(CardVault::new(&code_keys.derived(INFO)))
    }

    pub fn seal(&self, context: &str, text: &str) -> Result<String, UnsealError> {
        self.0.seal_text(context, text)
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<String, UnsealError> {
        self.0.open_text(context, sealed)
    }
}

impl std::fmt::Debug for KeptSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeptSecrets(keys=<redacted>)")
    }
}
