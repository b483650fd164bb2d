//! The Lambda edge: `lambda_http` requests in, [`Reply`] out; and the one direct
//! invocation a webhook function also answers, a replay ([`crate::replay`]).

use bytes::Bytes;
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, LambdaEvent, Request, RequestExt, Response, Service};
use serde::{Deserialize, Serialize};

use crate::archive::Archive;
use crate::model::Channel;
use crate::replay::{ReplayInvocation, ReplayReport};
use crate::reply::Reply;
use crate::request::WebhookRequest;
use crate::store::Store;
use crate::webhook::WebhookService;
use crate::{Config, aws, telemetry};

/// The whole `main` of a channel's webhook function: configuration, clients and the
/// channel's providers (`providers`: [`crate::providers::sms`], `email` or `social`, so each
/// binary links only its own) built once, then every invocation routed through
/// [`WebhookService::handle`], or [`crate::replay::invoked`] for an operator's replay.
pub async fn serve_channel(
    channel: Channel,
    providers: crate::providers::ProviderSet,
) -> Result<(), lambda_http::Error> {
    telemetry::init();
    let sdk = aws::load().await;
    let config = Config::load(&sdk).await?;
    let store = Store::from_sdk_config(&sdk, &config.table_name);
    let clients = crate::providers::Clients::new(&sdk)?;
    let archive = config
        .archive
        .as_ref()
        .map(|a| Archive::new(&sdk, &a.bucket, a.endpoint.as_deref(), a.all));
    let mut service =
        WebhookService::with_providers(channel, providers(&config, &clients)?, &config, store)?;
    if let Some(archive) = &archive {
        service = service.with_archive(archive.clone());
    }
    tracing::info!(channel = %channel, routes = ?service.routes(), archive = archive.is_some(), "cold start complete");
    let service = &service;
    let archive = archive.as_ref();
    // lambda_http's own adapter turns each HTTP event into a request and the reply into the
    // response shape of the event's origin (HTTP API, REST API, Function URL), as
    // `lambda_http::run` would; only the event type around it is ours.
    let mut http =
        lambda_http::Adapter::from(lambda_http::service_fn(move |req: Request| async move {
            let reply = service.handle(to_webhook_request(req)).await;
            Ok::<_, std::convert::Infallible>(to_response(reply))
        }));
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: LambdaEvent<Invocation>| {
            let LambdaEvent { payload, context } = event;
            let answer = match payload {
                Invocation::Http(req) => Either::Http(http.call(LambdaEvent::new(*req, context))),
                Invocation::Replay(replay) => Either::Replay(async move {
                    crate::replay::invoked(service, archive, &replay).await
                }),
            };
            async move {
                match answer {
                    Either::Http(fut) => fut.await.map(Answer::Http),
                    Either::Replay(fut) => Ok(Answer::Replay(fut.await)),
                }
            }
        },
    ))
    .await
}

/// What a webhook function is invoked with: an HTTP event (API Gateway, a Function URL), or
/// an operator's [`ReplayInvocation`]. The replay is told apart by its one field, which no
/// HTTP event has; anything else is read as `lambda_http` reads it.
#[derive(Debug)]
pub enum Invocation {
    /// A provider's request through API Gateway.
    Http(Box<LambdaRequest>),
    /// `intake replay run --stack`.
    Replay(ReplayInvocation),
}

impl<'de> Deserialize<'de> for Invocation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        // `deny_unknown_fields` stops at an HTTP event's first field: no second full parse.
        if let Ok(replay) = serde_json::from_str::<ReplayInvocation>(raw.get()) {
            return Ok(Invocation::Replay(replay));
        }
        serde_json::from_str::<LambdaRequest>(raw.get())
            .map(|req| Invocation::Http(Box::new(req)))
            .map_err(serde::de::Error::custom)
    }
}

/// The two futures an invocation may be answered by.
enum Either<H, R> {
    Http(H),
    Replay(R),
}

/// What a webhook function answers: `lambda_http`'s response, or a replay's report.
#[derive(Serialize)]
#[serde(untagged)]
enum Answer<H> {
    Http(H),
    Replay(ReplayReport),
}

/// Converts an API Gateway / Function URL request. `lambda_http` has already decoded
/// base64-encoded bodies (`isBase64Encoded`), so the bytes are what the provider sent.
pub fn to_webhook_request(req: Request) -> WebhookRequest {
    let query = req.uri().query().map(str::to_owned);
    let path = req.raw_http_path().to_owned();
    let (parts, body) = req.into_parts();
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    WebhookRequest::new(parts.method, path, query, parts.headers, body)
}

/// Converts a reply into the Lambda response.
pub fn to_response(reply: Reply) -> Response<Body> {
    let mut response = Response::builder()
        .status(reply.status)
        .header("content-type", reply.content_type);
    for (name, value) in reply.headers {
        response = response.header(name, value);
    }
    response.body(Body::Text(reply.body)).unwrap_or_else(|_| {
        let mut fallback = Response::new(Body::Empty);
        *fallback.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An API Gateway HTTP API (payload 2.0) event as Twilio's POST arrives: the form body
    /// base64-encoded, as API Gateway does for `application/x-www-form-urlencoded`.
    #[test]
    fn base64_encoded_body_arrives_decoded() {
        let form = "MessageSid=SM1&From=%2B6281234567890&To=%2B6221555000&Body=Halo";
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(form);
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": "POST /sms/{provider}",
            "rawPath": "/sms/twilio",
            "rawQueryString": "a=1",
            "headers": {
                "content-type": "application/x-www-form-urlencoded",
                "x-twilio-signature": "abc=",
                "host": "attacker.example.com"
            },
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api",
                "domainName": "abc.execute-api.ap-southeast-3.amazonaws.com",
                "domainPrefix": "abc",
                "http": {
                    "method": "POST",
                    "path": "/sms/twilio",
                    "protocol": "HTTP/1.1",
                    "sourceIp": "54.172.60.1",
                    "userAgent": "TwilioProxy/1.1"
                },
                "requestId": "id",
                "routeKey": "POST /sms/{provider}",
                "stage": "$default",
                "time": "22/Nov/2026:08:00:00 +0000",
                "timeEpoch": 1795334400000u64
            },
            "body": encoded,
            "isBase64Encoded": true
        });
        // What the Lambda runtime hands the function: an HTTP event, not a replay.
        let Ok(Invocation::Http(_)) = serde_json::from_str::<Invocation>(&event.to_string()) else {
            panic!("an API Gateway event is read as HTTP");
        };
        let req = lambda_http::request::from_str(&event.to_string()).unwrap();
        let webhook = to_webhook_request(req);
        assert_eq!(webhook.method, http::Method::POST);
        assert_eq!(webhook.path, "/sms/twilio");
        assert_eq!(webhook.query.as_deref(), Some("a=1"));
        assert_eq!(&webhook.body[..], form.as_bytes());
        assert_eq!(webhook.header("x-twilio-signature"), Some("abc="));
    }

    #[test]
    fn a_replay_is_read_as_a_replay_and_nothing_else_is() {
        let replay = r#"{"intakeReplay":{"key":"archive/2026/11/30/sms/twilio/x.json"}}"#;
        let Ok(Invocation::Replay(read)) = serde_json::from_str::<Invocation>(replay) else {
            panic!("a replay is read as a replay");
        };
        assert_eq!(read.replay.key, "archive/2026/11/30/sms/twilio/x.json");
        // Neither a replay nor an HTTP event: refused, as lambda_http refuses it.
        assert!(serde_json::from_str::<Invocation>(r#"{"hello":"world"}"#).is_err());
    }

    #[test]
    fn reply_becomes_response() {
        let r = to_response(Reply::xml(200, "<Response/>"));
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/xml");
        let refused = to_response(Reply::from_error(
            &crate::error::WebhookError::MethodNotAllowed {
                allowed: &["GET", "POST"],
            },
        ));
        assert_eq!(refused.status(), 405);
        assert_eq!(refused.headers()["allow"], "GET, POST");
        assert_eq!(refused.headers()["content-type"], "application/json");
        let unauthorized =
            to_response(Reply::from_error(&crate::error::WebhookError::Unauthorized));
        assert_eq!(
            unauthorized.headers()["www-authenticate"],
            r#"Basic realm="intake""#
        );
    }
}
