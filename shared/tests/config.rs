//! Configuration that decides who may call: the local merchant header is for the local stack
//! only, and nothing deployed can turn it on.

use shared::config::{ConfigError, LocalAuth};

#[test]
fn local_auth_is_refused_unless_the_aws_endpoint_is_on_127_0_0_1() {
    assert_eq!(LocalAuth::from_env(None, None).unwrap(), LocalAuth::Off);
    assert_eq!(
        LocalAuth::from_env(Some(""), Some("https://dynamodb.eu-west-1.amazonaws.com")).unwrap(),
        LocalAuth::Off
    );
    assert_eq!(
        LocalAuth::from_env(Some("merchant-header"), Some("http://127.0.0.1:4566")).unwrap(),
        LocalAuth::MerchantHeader
    );
    for endpoint in [
        None,
        Some("https://dynamodb.eu-west-1.amazonaws.com"),
        Some("http://localhost:4566"),
        Some("http://127.0.0.1.example.com:4566"),
        Some("http://10.0.0.1:4566"),
        Some("not a url"),
    ] {
        assert!(
            matches!(
                LocalAuth::from_env(Some("merchant-header"), endpoint),
                Err(ConfigError::LocalAuthOutsideLocal(_))
            ),
            "{endpoint:?}"
        );
    }
    assert!(matches!(
        LocalAuth::from_env(Some("yes"), Some("http://127.0.0.1:4566")),
        Err(ConfigError::LocalAuthMode(_))
    ));
}

#[test]
fn the_template_never_sets_local_auth() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = std::fs::read_to_string(root.join("template.yaml")).unwrap();
    assert!(!template.contains("LOCAL_AUTH"), "template.yaml must never set LOCAL_AUTH");
    assert!(!template.to_ascii_lowercase().contains("x-local-merchant-id"));
    // Every merchant route has the JWT authorizer with a scope; only the shopper's routes
    // (/checkout/{session_id}/...) have none.
    let yaml: serde_norway::Value = serde_norway::from_str(&template).unwrap();
    let mut routes = 0;
    for resource in yaml["Resources"].as_mapping().unwrap().values() {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else { continue };
        for event in events.values() {
            let props = &event["Properties"];
            if event["Type"].as_str() != Some("HttpApi") {
                // The sweeper's schedule, the webhook events' stream: no route.
                assert!(matches!(event["Type"].as_str(), Some("ScheduleV2" | "DynamoDB")), "{event:?}");
                continue;
            }
            let (path, auth) = (props["Path"].as_str().unwrap(), &props["Auth"]);
            // The acquirer's notifications are public too: each item is signed.
            let shoppers = path.starts_with("/checkout/{session_id}") || path == "/acquirer/notifications";
            if shoppers {
                assert_eq!(auth["Authorizer"].as_str(), Some("NONE"), "{path}");
            } else {
                assert_eq!(auth["Authorizer"].as_str(), Some("MerchantJwt"), "{path}");
                let scope = if props["Method"].as_str() == Some("GET") { "payments/read" } else { "payments/write" };
                let scopes: Vec<&str> =
                    auth["AuthorizationScopes"].as_sequence().unwrap().iter().filter_map(|s| s.as_str()).collect();
                assert_eq!(scopes, [scope], "{path}");
            }
            routes += 1;
        }
    }
    assert_eq!(routes, shared::http::routes::ROUTES.len());
}

/// `ACQUIRER` and its settings from a list of variables.
fn acquirer(vars: &[(&str, &str)]) -> Result<shared::config::AcquirerChoice, ConfigError> {
    let vars: std::collections::HashMap<String, String> =
        vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    shared::config::AcquirerChoice::from_env(|name| vars.get(name).cloned())
}

#[test]
fn the_sandbox_acquirer_needs_its_permission_and_there_is_no_default() {
    use shared::config::AcquirerChoice;
    let sandbox = |allow: Option<&str>| match allow {
        Some(a) => acquirer(&[("ACQUIRER", "sandbox"), ("ALLOW_SANDBOX_ACQUIRER", a)]),
        None => acquirer(&[("ACQUIRER", "sandbox")]),
    };
    assert_eq!(sandbox(Some("true")).unwrap(), AcquirerChoice::Sandbox);
    for allow in [None, Some("false"), Some("TRUE"), Some("1")] {
        assert!(matches!(sandbox(allow), Err(ConfigError::SandboxNotAllowed)), "{allow:?}");
    }
    assert!(matches!(acquirer(&[("ALLOW_SANDBOX_ACQUIRER", "true")]), Err(ConfigError::Missing("ACQUIRER"))));
    assert!(matches!(acquirer(&[("ACQUIRER", "stripe")]), Err(ConfigError::UnknownAcquirer(_))));
}

#[test]
fn adyen_needs_its_endpoint_account_and_return_url_and_none_has_a_default() {
    use shared::config::{AcquirerChoice, AdyenSettings};
    let full = [
        ("ACQUIRER", "adyen"),
        ("ADYEN_ENDPOINT", "https://checkout-test.adyen.com/v71"),
        ("ADYEN_MERCHANT_ACCOUNT", "ShopAccount"),
        ("ADYEN_RETURN_URL", "https://pay.example.com/return"),
    ];
    assert_eq!(
        acquirer(&full).unwrap(),
        AcquirerChoice::Adyen(AdyenSettings {
            endpoint: "https://checkout-test.adyen.com/v71".into(),
            merchant_account: "ShopAccount".into(),
            return_url: "https://pay.example.com/return".into(),
        })
    );
    for missing in ["ADYEN_ENDPOINT", "ADYEN_MERCHANT_ACCOUNT", "ADYEN_RETURN_URL"] {
        let vars: Vec<(&str, &str)> = full.iter().copied().filter(|(k, _)| *k != missing).collect();
        assert!(matches!(acquirer(&vars), Err(ConfigError::Missing(m)) if m == missing), "{missing}");
    }
    // Plain http only to the local stand-in on 127.0.0.1.
    for (endpoint, ok) in [
        ("http://127.0.0.1:4010", true),
        ("http://checkout-test.adyen.com/v71", false),
        ("http://10.0.0.1:4010", false),
        ("checkout-test.adyen.com", false),
    ] {
        let mut vars = full.to_vec();
        vars[1] = ("ADYEN_ENDPOINT", endpoint);
        assert_eq!(acquirer(&vars).is_ok(), ok, "{endpoint}");
    }
}

#[test]
fn the_template_forbids_the_sandbox_in_prod() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("template.yaml")).unwrap();
    let yaml: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let acquirer = &yaml["Parameters"]["Acquirer"];
    assert!(acquirer.get("Default").is_none(), "the acquirer must be chosen, not defaulted");
    assert_eq!(yaml["Parameters"]["AllowSandboxAcquirer"]["Default"].as_str(), Some("false"));
    // The rule's condition is the prod stage; its assertion negates allowing the sandbox.
    let rule = format!("{:?}", yaml["Rules"]["NoSandboxInProd"]);
    assert!(rule.contains("Stage") && rule.contains("prod") && rule.contains("AllowSandboxAcquirer"), "{rule}");
    assert!(rule.contains("Not"), "{rule}");
    let env = &yaml["Globals"]["Function"]["Environment"]["Variables"];
    assert!(env.get("ACQUIRER").is_some() && env.get("ALLOW_SANDBOX_ACQUIRER").is_some());
}

#[test]
fn the_table_is_encrypted_with_its_own_rotating_key_usable_only_through_dynamodb() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("template.yaml")).unwrap();
    let yaml: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let sse = &yaml["Resources"]["PaymentsTable"]["Properties"]["SSESpecification"];
    assert_eq!(sse["SSEType"].as_str(), Some("KMS"));
    assert!(format!("{:?}", sse["KMSMasterKeyId"]).contains("TableKey"), "{sse:?}");
    let key = &yaml["Resources"]["TableKey"]["Properties"];
    assert_eq!(key["EnableKeyRotation"].as_bool(), Some(true));
    let statements = key["KeyPolicy"]["Statement"].as_sequence().unwrap();
    for statement in statements {
        let actions = format!("{:?}", statement["Action"]);
        let uses = actions.contains("kms:Decrypt") || actions.contains("kms:GenerateDataKey");
        if uses {
            // Whoever may use the key may do so only through DynamoDB, for this account.
            let condition = format!("{:?}", statement["Condition"]);
            assert!(condition.contains("kms:ViaService") && condition.contains("dynamodb."), "{statement:?}");
            assert!(condition.contains("kms:CallerAccount"), "{statement:?}");
        }
        assert!(!actions.contains("kms:*"), "no statement grants every KMS action: {statement:?}");
    }
}

#[test]
fn the_history_index_projects_the_same_attributes_here_and_in_the_template() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = std::fs::read_to_string(root.join("template.yaml")).unwrap();
    let yaml: serde_norway::Value = serde_norway::from_str(&template).unwrap();
    let indexes = yaml["Resources"]["PaymentsTable"]["Properties"]["GlobalSecondaryIndexes"].as_sequence().unwrap();
    let history = indexes.iter().find(|i| i["IndexName"].as_str() == Some("gsi1")).unwrap();
    let projected: Vec<&str> =
        history["Projection"]["NonKeyAttributes"].as_sequence().unwrap().iter().filter_map(|a| a.as_str()).collect();
    assert_eq!(projected, shared::adapters::dynamodb::table::HISTORY_PROJECTION);
    for secret in ["sealed_card", "sealed_phone", "code_mac", "fingerprint", "phone_key", "authorization_id"] {
        assert!(!projected.contains(&secret), "{secret}");
    }
}

#[test]
fn each_function_may_read_exactly_the_keys_its_handler_loads() {
    use shared::bootstrap::Capabilities;
    use shared::config::Keys;
    // The keys a handler's function loads at cold start follow from the type it runs on.
    fn keys_of<C: Capabilities, H, F>(_: H) -> Keys
    where
        H: Fn(&'static C, shared::lambda_http::Request) -> F,
    {
        C::KEYS
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = std::fs::read_to_string(root.join("template.yaml")).unwrap();
    let yaml: serde_norway::Value = serde_norway::from_str(&template).unwrap();
    // Each function's main serves the handler named here (or runs the sweeper job).
    let functions = [
        ("FirstPaymentFunction", "first-payment", "shared::http::first_payment", keys_of(shared::http::first_payment)),
        (
            "RepeatPaymentFunction",
            "repeat-payment",
            "shared::http::repeat_payment",
            keys_of(shared::http::repeat_payment),
        ),
        ("VerifyCodeFunction", "verify-code", "shared::http::verify_code", keys_of(shared::http::verify_code)),
        (
            "PaymentStatusFunction",
            "payment-status",
            "shared::http::payment_status",
            keys_of(shared::http::payment_status),
        ),
        ("CheckoutPageFunction", "checkout-page", "shared::http::checkout_page", keys_of(shared::http::checkout_page)),
        (
            "PaymentOperationsFunction",
            "payment-operations",
            "shared::http::payment_operations",
            keys_of(shared::http::payment_operations),
        ),
        (
            "PaymentSweeperFunction",
            "payment-sweeper",
            "shared::jobs::sweeper",
            <shared::Services as Capabilities>::KEYS,
        ),
        (
            "AcquirerNotificationsFunction",
            "acquirer-notifications",
            "shared::http::acquirer_notifications",
            keys_of(shared::http::acquirer_notifications),
        ),
        (
            "WebhookEventsFunction",
            "webhook-events",
            "shared::jobs::webhook_events",
            <shared::CodeServices as Capabilities>::KEYS,
        ),
    ];
    assert_eq!(keys_of(shared::http::payment_status), Keys::NONE, "payment-status loads no key");
    assert_eq!(keys_of(shared::http::checkout_page), Keys::CODE, "the public page holds no card key");
    let mut seen = 0;
    for (name, resource) in yaml["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap();
        let (_, dir, handler, keys) =
            functions.iter().find(|f| f.0 == name).unwrap_or_else(|| panic!("{name}: add it here"));
        let main = std::fs::read_to_string(root.join(format!("functions/{dir}/src/main.rs"))).unwrap();
        assert!(main.contains(&format!("{handler})")), "{dir}'s main serves {handler}");
        let policies = serde_norway::to_string(&resource["Properties"]["Policies"]).unwrap();
        let granted =
            Keys { code: policies.contains("ReadCodeKeyPolicy"), card: policies.contains("ReadCardKeyPolicy") };
        assert_eq!(&granted, keys, "{name}: the template grants the keys its handler loads, no more");
        seen += 1;
    }
    assert_eq!(seen, functions.len());
}

#[test]
fn the_functions_trust_the_five_roots_aws_endpoints_chain_to() {
    use base64::Engine;
    let pem = std::str::from_utf8(shared::bootstrap::AWS_ROOTS).unwrap();
    let bodies: Vec<Vec<u8>> = pem
        .split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .map(|rest| {
            let b64: String = rest.split("-----END CERTIFICATE-----").next().unwrap().split_whitespace().collect();
            base64::engine::general_purpose::STANDARD.decode(b64).unwrap()
        })
        .collect();
    assert_eq!(bodies.len(), 5);
    for der in &bodies {
        assert_eq!(der.first(), Some(&0x30), "a DER certificate is a SEQUENCE");
        let text = String::from_utf8_lossy(der);
        assert!(text.contains("Amazon Root CA") || text.contains("Starfield Services Root"), "{text}");
    }
    // Building the client parses them (the integration tests then reach moto through it).
    let _client = shared::bootstrap::https_client();
}

#[test]
fn the_sms_protect_configuration_names_every_country_libphonenumber_knows() {
    // AWS End User Messaging allows every country a protect configuration does not name: the
    // template's names them all (those ISO 3166-1 assigns), each with the stack's protection (`SmsProtectStatus`), so a
    // new country cannot slip past it. An SMS to a country outside `SmsCountries` is refused
    // before it is sent (`422 phone_country_not_allowed`).
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let yaml: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(root.join("template.yaml")).unwrap()).unwrap();
    let protect = &yaml["Resources"]["SmsProtectConfiguration"];
    assert_eq!(protect["Type"].as_str(), Some("AWS::SMSVOICE::ProtectConfiguration"));
    assert_eq!(protect["Condition"].as_str(), Some("SmsProtected"));
    let rules = protect["Properties"]["CountryRuleSet"]["SMS"].as_sequence().expect("SMS rules");
    let mut named: Vec<String> = Vec::new();
    for rule in rules {
        let status = serde_norway::to_string(&rule["ProtectStatus"]).unwrap();
        assert!(status.contains("SmsProtectStatus"), "{status}");
        named.push(rule["CountryCode"].as_str().unwrap().to_owned());
    }
    let mut known: Vec<String> = rlibphonenumber::PHONE_NUMBER_UTIL
        .get_supported_regions()
        .map(|r| r.to_string())
        // Ascension, Tristan da Cunha and Kosovo have no ISO 3166-1 code of their own.
        .filter(|r| !["AC", "TA", "XK"].contains(&r.as_str()))
        .collect();
    known.sort();
    let mut sorted = named.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), named.len(), "a country named twice");
    assert_eq!(sorted, known, "the rules, one per country: {}", known.join(","));
}

#[test]
fn only_the_functions_that_call_the_acquirer_may_read_adyens_api_key_and_one_its_hmac_key() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let yaml: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(root.join("template.yaml")).unwrap()).unwrap();
    let globals = serde_norway::to_string(&yaml["Globals"]).unwrap();
    assert!(!globals.contains("ADYEN_API_KEY") && !globals.contains("ADYEN_HMAC_KEY"), "never for every function");
    let (mut api, mut hmac) = (Vec::new(), Vec::new());
    for (name, resource) in yaml["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap().to_owned();
        let env = &resource["Properties"]["Environment"]["Variables"];
        let policies = serde_norway::to_string(&resource["Properties"]["Policies"]).unwrap();
        let reads_api = !env["ADYEN_API_KEY_PARAM"].is_null();
        assert_eq!(reads_api, policies.contains("ReadAdyenApiKeyPolicy"), "{name}");
        if reads_api {
            api.push(name.clone());
        }
        if !env["ADYEN_HMAC_KEY_PARAM"].is_null() {
            assert!(policies.contains("adyen-hmac-key"), "{name}");
            hmac.push(name);
        } else {
            assert!(!policies.contains("adyen-hmac-key"), "{name}");
        }
    }
    api.sort();
    // Every function that captures, voids, refunds or authorises; not the status reads nor the
    // webhook events.
    assert_eq!(
        api,
        [
            "AcquirerNotificationsFunction",
            "CheckoutPageFunction",
            "FirstPaymentFunction",
            "PaymentOperationsFunction",
            "PaymentSweeperFunction",
            "RepeatPaymentFunction",
            "VerifyCodeFunction"
        ]
    );
    assert_eq!(hmac, ["AcquirerNotificationsFunction"]);
}
