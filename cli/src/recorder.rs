//! The recorder: a local stand-in for provider APIs (Twilio's Messages API, ...). It answers
//! as the provider would, keeps every request for `intake outbox list` and the tests, and
//! can be told to fail the next requests to exercise retries.

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::Full;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

use crate::DevResult;
use crate::server::{self, Handler};

/// One request a function sent to a provider API.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Recorded {
    /// RFC 3339 time it arrived.
    pub time: String,
    /// Which fake answered: `twilio`, `plivo`, ..., or `unknown`.
    /// Which fake answered: `twilio`, `messagebird`, ..., or `unknown`.
    /// Which fake answered: `twilio`, `telnyx`, ..., or `unknown`.
    pub provider: String,
    /// The channel of that provider.
    pub channel: String,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Recipient.
    pub to: Option<String>,
    /// Sender.
    pub from: Option<String>,
    /// Message text (`template:<name>` for a WhatsApp template).
    pub body: Option<String>,
    /// An email's subject (email acks, read from the SES emulator; see `crate::outbox`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// What the message answers: WhatsApp `context.message_id`, Telegram
    /// `reply_parameters.message_id`, LINE `replyToken`.
    pub reply_to: Option<String>,
    /// The API used: `message`, `template`, `reply`, `push`, ...
    pub kind: Option<String>,
    /// LINE's `X-Line-Retry-Key`, when the request carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_key: Option<String>,
    /// Whether the request carried credentials.
    pub authenticated: bool,
    /// Status the recorder answered with.
    pub status: u16,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    failures: VecDeque<u16>,
    /// Objects of the S3 stand-in, by `/<bucket>/<key>`.
    objects: std::collections::HashMap<String, Bytes>,
    /// LINE push retry keys accepted: a push presenting one again is answered 409, as LINE
    /// answers a retry of a request it accepted (within 24 hours).
    line_retry_keys: std::collections::HashSet<String>,
}

/// A running recorder.
pub struct Recorder {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    /// Starts on `port` (0 for any free port).
    pub async fn start(port: u16) -> DevResult<Recorder> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let task = server::spawn(listener, handler(state));
        Ok(Recorder { addr, task })
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn json(status: u16, value: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// S3 stand-in (path-style `PutObject`/`GetObject` under `/s3`), where a receipt rule's S3
/// action would have stored a mail: tests put it, the email webhook gets it.
fn s3(st: &mut State, method: &Method, object: &str, body: &Bytes) -> Response<Full<Bytes>> {
    let xml = |status: u16, text: String| {
        Response::builder()
            .status(status)
            .header("content-type", "application/xml")
            .header("etag", "\"local\"")
            .body(Full::new(Bytes::from(text)))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    };
    match *method {
        Method::PUT => {
            st.objects.insert(object.to_owned(), body.clone());
            xml(200, String::new())
        }
        Method::GET => match st.objects.get(object) {
            Some(bytes) => Response::builder()
                .status(200)
                .header("content-type", "message/rfc822")
                .header("content-length", bytes.len())
                .body(Full::new(bytes.clone()))
                .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))),
            None => xml(
                404,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>".into(),
            ),
        },
        _ => xml(405, String::new()),
    }
}

fn handler(state: Arc<Mutex<State>>) -> Handler {
    Arc::new(move |req: Request<Bytes>| {
        let state = state.clone();
        Box::pin(async move {
            let path = req.uri().path().to_owned();
            let mut st = match state.lock() {
                Ok(st) => st,
                Err(poisoned) => poisoned.into_inner(),
            };
            match (req.method(), path.as_str()) {
                (&Method::GET, "/__recorder/requests") => {
                    return json(200, serde_json::to_value(&st.requests).unwrap_or_default());
                }
                (&Method::POST, "/__recorder/reset") => {
                    st.requests.clear();
                    st.failures.clear();
                    return json(200, serde_json::json!({}));
                }
                (&Method::POST, "/__recorder/fail") => {
                    let mut status = 503;
                    let mut count = 1;
                    for (k, v) in form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                    {
                        match k.as_ref() {
                            "status" => status = v.parse().unwrap_or(503),
                            "count" => count = v.parse().unwrap_or(1),
                            _ => {}
                        }
                    }
                    st.failures.extend(std::iter::repeat_n(status, count));
                    return json(200, serde_json::json!({ "queued": st.failures.len() }));
                }
                _ => {}
            }
            if let Some(object) = path.strip_prefix("/s3") {
                // The SDK joins a base path and the bucket without a slash.
                let object = object.trim_start_matches('/');
                return s3(&mut st, req.method(), object, req.body());
            }
            let retry_key = req
                .headers()
                .get("x-line-retry-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if let Some(key) = retry_key
                .as_ref()
                .filter(|k| st.line_retry_keys.contains(*k))
            {
                let (mut recorded, _) = fake_provider(&req, None);
                recorded.status = 409;
                recorded.retry_key = Some(key.clone());
                st.requests.push(recorded);
                return json(
                    409,
                    serde_json::json!({"message": "The retry key is already accepted", "sentMessages": [{"id": "1", "quoteToken": "q"}]}),
                );
            }
            let status = st.failures.pop_front();
            let (mut recorded, response) = fake_provider(&req, status);
            if let Some(key) = retry_key {
                if recorded.provider == "line" && (200..300).contains(&recorded.status) {
                    st.line_retry_keys.insert(key.clone());
                }
                recorded.retry_key = Some(key);
            }
            st.requests.push(recorded);
            response
        })
    })
}

/// Answers as the provider whose API the path belongs to.
fn fake_provider(req: &Request<Bytes>, failure: Option<u16>) -> (Recorded, Response<Full<Bytes>>) {
    let path = req.uri().path();
    let mut recorded = Recorded {
        time: jiff::Timestamp::now().to_string(),
        provider: "unknown".into(),
        channel: "unknown".into(),
        method: req.method().to_string(),
        path: path.to_owned(),
        to: None,
        from: None,
        body: None,
        subject: None,
        reply_to: None,
        kind: None,
        retry_key: None,
        authenticated: req.headers().contains_key("authorization"),
        status: 404,
    };
    let json_body: serde_json::Value = serde_json::from_slice(req.body()).unwrap_or_default();
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let amz_target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (status, answer) = if amz_target == "PinpointSMSVoiceV2.SendTextMessage" {
        // AWS End User Messaging SMS (JSON 1.0 protocol, SigV4-signed): POST / with the
        // operation in X-Amz-Target.
        recorded.provider = "aws".into();
        recorded.channel = "sms".into();
        recorded.path = format!("{path}#SendTextMessage");
        recorded.to = text(&json_body["DestinationPhoneNumber"]);
        recorded.from = text(&json_body["OriginationIdentity"]);
        recorded.body = text(&json_body["MessageBody"]);
        recorded.kind = text(&json_body["MessageType"]).map(|t| t.to_lowercase());
        recorded.authenticated = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 "));
        match failure {
            _ if !recorded.authenticated => (
                400,
                serde_json::json!({"__type": "UnrecognizedClientException", "message": "The security token included in the request is invalid."}),
            ),
            Some(400) => (
                400,
                serde_json::json!({"__type": "ValidationException", "message": "recorder told to fail with 400", "Reason": "INVALID_PARAMETER"}),
            ),
            Some(429) => (
                400,
                serde_json::json!({"__type": "ThrottlingException", "message": "recorder told to fail with 429"}),
            ),
            Some(status) => (
                status,
                serde_json::json!({"__type": "InternalServerException", "message": format!("recorder told to fail with {status}")}),
            ),
            None => (
                200,
                serde_json::json!({"MessageId": ulid::Ulid::new().to_string().to_lowercase()}),
            ),
        }
    } else if path.starts_with("/2010-04-01/Accounts/") && path.ends_with("/Messages.json") {
        let form: Vec<(String, String)> = form_urlencoded::parse(req.body())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        recorded.provider = "twilio".into();
        recorded.channel = "sms".into();
        recorded.to = field("To");
        recorded.from = field("From");
        recorded.body = field("Body");
        recorded.kind = Some("message".into());
        match failure {
            _ if !recorded.authenticated => (
                401,
                serde_json::json!({"code": 20003, "message": "Authenticate", "status": 401}),
            ),
            Some(status) => (
                status,
                serde_json::json!({"code": if status == 400 { 21211 } else { 20500 }, "message": format!("recorder told to fail with {status}"), "status": status}),
            ),
            None => (
                201,
                serde_json::json!({"sid": crate::simulate::new_message_sid(), "status": "queued", "to": recorded.to, "body": recorded.body}),
            ),
        }
    } else if let Some(auth_id) = path
        .strip_prefix("/v1/Account/")
        .and_then(|rest| rest.strip_suffix("/Message/"))
    {
        // Plivo's Message API: JSON {src, dst, text}, Basic auth as the account in the path.
        recorded.provider = "plivo".into();
        recorded.channel = "sms".into();
        recorded.to = text(&json_body["dst"]);
        recorded.from = text(&json_body["src"]);
        recorded.body = text(&json_body["text"]);
        recorded.kind = Some("message".into());
        recorded.authenticated = basic_user(req).is_some_and(|user| user == auth_id);
        let api_id = ulid::Ulid::new().to_string().to_lowercase();
        match failure {
            _ if !recorded.authenticated => (
                401,
                serde_json::json!({"api_id": api_id, "error": "authentication failed"}),
            ),
            Some(status) => (
                status,
                serde_json::json!({"api_id": api_id, "error": format!("recorder told to fail with {status}")}),
            ),
            None => (
                202,
                serde_json::json!({"api_id": api_id, "message": "message(s) queued", "message_uuid": [crate::simulate::new_plivo_uuid()]}),
            ),
        }
    } else if path == "/messages" || is_bird_messages(path) {
        // MessageBird: the legacy REST API (`POST /messages`) or Bird's Channels API
        // (`POST /workspaces/{workspace}/channels/{channel}/messages`), both `AccessKey` auth.
        recorded.provider = "messagebird".into();
        recorded.channel = "sms".into();
        recorded.authenticated = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("AccessKey "))
            .is_some_and(|key| !key.trim().is_empty());
        let bird = path != "/messages";
        if bird {
            recorded.kind = Some("bird".into());
            recorded.from = path.split('/').nth(4).map(str::to_owned);
            recorded.to = text(&json_body["receiver"]["contacts"][0]["identifierValue"]);
            recorded.body = text(&json_body["body"]["text"]["text"]);
        } else {
            recorded.kind = Some("message".into());
            recorded.from = text(&json_body["originator"]);
            recorded.to = text(&json_body["recipients"][0])
                .or_else(|| json_body["recipients"][0].as_u64().map(|n| n.to_string()));
            recorded.body = text(&json_body["body"]);
        }
        let id = ulid::Ulid::new().to_string().to_lowercase();
        match failure {
            _ if !recorded.authenticated && bird => (
                401,
                serde_json::json!({"code": "Unauthorized", "message": "Unauthorized"}),
            ),
            _ if !recorded.authenticated => (
                401,
                serde_json::json!({"errors": [{"code": 2, "description": "Request not allowed (incorrect access_key)", "parameter": "access_key"}]}),
            ),
            Some(status) if bird => (
                status,
                serde_json::json!({"code": if status == 400 { "InvalidPayload" } else { "InternalError" }, "message": format!("recorder told to fail with {status}")}),
            ),
            Some(status) => (
                status,
                serde_json::json!({"errors": [{"code": if status == 400 { 9 } else { 99 }, "description": format!("recorder told to fail with {status}"), "parameter": null}]}),
            ),
            None if bird => (
                202,
                serde_json::json!({"id": id, "channelId": recorded.from, "status": "accepted", "body": json_body["body"]}),
            ),
            None => (
                201,
                serde_json::json!({"id": id, "href": format!("https://rest.messagebird.com/messages/{id}"), "direction": "mt", "type": "sms", "originator": recorded.from, "body": recorded.body, "recipients": {"totalCount": 1, "totalSentCount": 1, "items": [{"recipient": recorded.to, "status": "sent"}]}}),
            ),
        }
    } else if path == "/v2/messages" {
        // Telnyx Messages API (before the Graph API's `/{version}/{id}/messages`).
        recorded.provider = "telnyx".into();
        recorded.channel = "sms".into();
        recorded.to = text(&json_body["to"]);
        recorded.from = text(&json_body["from"]);
        recorded.body = text(&json_body["text"]);
        recorded.kind = Some("message".into());
        let bearer = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|key| !key.trim().is_empty());
        recorded.authenticated = bearer;
        match failure {
            _ if !bearer => (
                401,
                serde_json::json!({"errors": [{"code": "10009", "title": "Authentication failed", "detail": "The API key is missing or invalid."}]}),
            ),
            Some(status) => (
                status,
                serde_json::json!({"errors": [{"code": if status == 400 { "40310" } else { "10007" }, "title": format!("recorder told to fail with {status}"), "detail": "recorder"}]}),
            ),
            None => (
                200,
                serde_json::json!({"data": {"record_type": "message", "direction": "outbound", "id": crate::simulate::new_uuid(), "type": "SMS", "from": {"phone_number": recorded.from}, "to": [{"phone_number": recorded.to, "status": "queued"}], "text": recorded.body}}),
            ),
        }
    } else if let Some(answer) = vonage(req, failure, &mut recorded) {
        // Vonage: before the Graph API, whose /{version}/.../messages its /v1/messages matches.
        answer
    } else if path.starts_with("/v") && path.ends_with("/messages") {
        // Graph API: /{version}/{page, account or phone number id}/messages
        recorded.provider = "meta".into();
        recorded.channel = "social".into();
        recorded.from = path.split('/').nth(2).map(str::to_owned);
        let whatsapp = json_body["messaging_product"] == "whatsapp";
        recorded.to = if whatsapp {
            text(&json_body["to"])
        } else {
            text(&json_body["recipient"]["id"])
        };
        recorded.kind = text(&json_body["type"]).or(Some("message".into()));
        recorded.body = text(&json_body["message"]["text"])
            .or_else(|| text(&json_body["text"]["body"]))
            .or_else(|| text(&json_body["template"]["name"]).map(|n| format!("template:{n}")));
        recorded.reply_to = text(&json_body["context"]["message_id"]);
        let id = ulid::Ulid::new().to_string();
        match failure {
            _ if !recorded.authenticated => (
                401,
                serde_json::json!({"error": {"message": "Invalid OAuth access token", "type": "OAuthException", "code": 190}}),
            ),
            Some(status) => (
                status,
                serde_json::json!({"error": {"message": format!("recorder told to fail with {status}"), "type": "OAuthException", "code": if status == 400 { 100 } else { 2 }, "fbtrace_id": "local"}}),
            ),
            None if whatsapp => (
                200,
                serde_json::json!({"messaging_product": "whatsapp", "contacts": [{"input": recorded.to, "wa_id": recorded.to}], "messages": [{"id": format!("wamid.{id}")}]}),
            ),
            None => (
                200,
                serde_json::json!({"recipient_id": recorded.to, "message_id": format!("m_{id}")}),
            ),
        }
    } else if path.starts_with("/bot") && path.ends_with("/sendMessage") {
        recorded.provider = "telegram".into();
        recorded.channel = "social".into();
        // The bot token is in the path: keep it out of the record.
        recorded.authenticated = path.len() > "/bot/sendMessage".len() && path.contains(':');
        recorded.path = "/bot***/sendMessage".into();
        recorded.to = json_body["chat_id"]
            .as_i64()
            .map(|c| c.to_string())
            .or_else(|| text(&json_body["chat_id"]));
        recorded.body = text(&json_body["text"]);
        recorded.reply_to = json_body["reply_parameters"]["message_id"]
            .as_i64()
            .map(|m| m.to_string());
        recorded.kind = Some("message".into());
        match failure {
            Some(status) => (
                status,
                serde_json::json!({"ok": false, "error_code": status, "description": format!("Bad Request: recorder told to fail with {status}")}),
            ),
            None => (
                200,
                serde_json::json!({"ok": true, "result": {"message_id": 1000 + (ulid::Ulid::new().random() % 100_000) as u64, "chat": {"id": json_body["chat_id"]}, "text": recorded.body}}),
            ),
        }
    } else if path == "/v2/bot/message/reply" || path == "/v2/bot/message/push" {
        recorded.provider = "line".into();
        recorded.channel = "social".into();
        let reply = path.ends_with("reply");
        recorded.kind = Some(if reply { "reply" } else { "push" }.into());
        recorded.to = text(&json_body["to"]);
        recorded.reply_to = text(&json_body["replyToken"]);
        recorded.body = text(&json_body["messages"][0]["text"]);
        match failure {
            _ if !recorded.authenticated => {
                (401, serde_json::json!({"message": "Authentication failed"}))
            }
            Some(status) => (
                status,
                serde_json::json!({"message": format!("recorder told to fail with {status}")}),
            ),
            None => (
                200,
                serde_json::json!({"sentMessages": [{"id": (ulid::Ulid::new().random() % 1_000_000_000).to_string(), "quoteToken": "q"}]}),
            ),
        }
    } else if path.starts_with("/sns") && req.method() == Method::GET {
        // SNS's ConfirmSubscription is a plain GET of the SubscribeURL.
        let query = req.uri().query().unwrap_or("");
        let param = |name: &str| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        recorded.provider = "sns".into();
        recorded.channel = "email".into();
        recorded.kind = param("Action");
        recorded.to = param("TopicArn");
        recorded.body = Some(query.to_owned());
        match failure {
            Some(status) => (
                status,
                serde_json::json!({"error": "recorder told to fail"}),
            ),
            None => (
                200,
                serde_json::json!({"ConfirmSubscriptionResponse": {"ConfirmSubscriptionResult": {"SubscriptionArn": format!("{}:{}", param("TopicArn").unwrap_or_default(), ulid::Ulid::new())}}}),
            ),
        }
    } else {
        (
            404,
            serde_json::json!({"error": "no fake provider at this path"}),
        )
    };
    recorded.status = status;
    (recorded, json(status, answer))
}

/// The user of a request's HTTP Basic credentials, when it has a non-empty password.
fn basic_user(req: &Request<Bytes>) -> Option<String> {
    use base64::Engine;
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    (!password.is_empty()).then(|| user.to_owned())
}

/// Bird's send path: `/workspaces/{workspace}/channels/{channel}/messages`.
fn is_bird_messages(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    matches!(
        parts.as_slice(),
        ["", "workspaces", workspace, "channels", channel, "messages"]
            if !workspace.is_empty() && !channel.is_empty()
    )
}

/// Vonage's Messages API (`POST /v1/messages`, JSON, HTTP Basic) and SMS API (`POST
/// /sms/json`, form with `api_key` and `api_secret`), answered as Vonage answers: 202 with a
/// `message_uuid`, or RFC 7807 problems; the SMS API 200 with a `status` per message, `"4"`
/// for missing credentials. `None` for any other path.
fn vonage(
    req: &Request<Bytes>,
    failure: Option<u16>,
    recorded: &mut Recorded,
) -> Option<(u16, serde_json::Value)> {
    let path = req.uri().path();
    if req.method() != Method::POST || !(path == "/v1/messages" || path == "/sms/json") {
        return None;
    }
    recorded.provider = "vonage".into();
    recorded.channel = "sms".into();
    let id = ulid::Ulid::new();
    if path == "/v1/messages" {
        let body: serde_json::Value = serde_json::from_slice(req.body()).unwrap_or_default();
        let text = |name: &str| body[name].as_str().map(str::to_owned);
        recorded.kind = Some("message".into());
        recorded.to = text("to");
        recorded.from = text("from");
        recorded.body = text("text");
        let problem = |code: &str, title: &str| {
            serde_json::json!({
                "type": format!("https://developer.vonage.com/api-errors/messages#{code}"),
                "title": title,
                "detail": format!("recorder: {title}"),
                "instance": id.to_string(),
            })
        };
        return Some(match failure {
            _ if !recorded.authenticated => (401, problem("1010", "Unauthorized")),
            Some(status) => (
                status,
                problem(if status == 422 { "1120" } else { "1000" }, "Failed"),
            ),
            None => (
                202,
                serde_json::json!({"message_uuid": crate::simulate::uuid_shaped(id)}),
            ),
        });
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(req.body())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    recorded.kind = Some("sms".into());
    recorded.to = field("to");
    recorded.from = field("from");
    recorded.body = field("text");
    recorded.authenticated = field("api_key").is_some_and(|k| !k.is_empty())
        && field("api_secret").is_some_and(|s| !s.is_empty());
    let part = |status: &str, error: &str| serde_json::json!({"message-count": "1", "messages": [{"status": status, "error-text": error}]});
    Some(match failure {
        _ if !recorded.authenticated => (200, part("4", "Bad Credentials")),
        // The SMS API answers 200 whatever happened: 400 is "invalid parameters", 429
        // "throttled", anything else a transport-level failure.
        Some(400) => (200, part("3", "Invalid Message")),
        Some(429) => (200, part("1", "Throttled")),
        Some(status) => (
            status,
            serde_json::json!({"error": "recorder told to fail"}),
        ),
        None => (
            200,
            serde_json::json!({"message-count": "1", "messages": [{
                "to": recorded.to,
                "message-id": format!("{:016X}", id.random() as u64),
                "status": "0",
                "remaining-balance": "10.0",
                "message-price": "0.0057",
                "network": "51010",
            }]}),
        ),
    })
}

/// Reads what a recorder at `url` has received.
pub async fn fetch(url: &str) -> DevResult<Vec<Recorded>> {
    Ok(reqwest::get(format!("{url}/__recorder/requests"))
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// Tells the recorder at `url` to answer the next `count` provider requests with `status`.
pub async fn fail_next(url: &str, status: u16, count: usize) -> DevResult<()> {
    reqwest::Client::new()
        .post(format!(
            "{url}/__recorder/fail?status={status}&count={count}"
        ))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}
