//! The local HTTP front: the routes API Gateway serves in the cloud, on one port.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::net::TcpListener;

use intake::{Reply, WebhookError, WebhookRequest, WebhookService};

/// Largest body the local server reads (API Gateway's payload limit is 10 MB); each
/// provider applies its own, smaller limit after that.
pub const MAX_BODY: usize = 10 * 1024 * 1024;

/// A request handler on whole bodies.
pub type Handler = Arc<
    dyn Fn(Request<Bytes>) -> Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>
        + Send
        + Sync,
>;

/// Serves `handler` on `listener` until the task is aborted.
pub fn spawn(listener: TcpListener, handler: Handler) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let handler = handler.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let response =
                            match Limited::new(body, MAX_BODY).collect().await {
                                Ok(collected) => {
                                    handler(Request::from_parts(parts, collected.to_bytes())).await
                                }
                                Err(_) => reply_response(Reply::from_error(
                                    &WebhookError::PayloadTooLarge { limit: MAX_BODY },
                                )),
                            };
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// The methods `/health` answers; any other is refused with 405, like a webhook route.
pub const HEALTH_METHODS: &[&str] = &["GET", "HEAD"];

/// A [`Reply`] as a hyper response, with its further headers (`allow`, `www-authenticate`).
pub fn reply_response(reply: Reply) -> Response<Full<Bytes>> {
    let mut response = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", reply.content_type);
    for (name, value) in reply.headers {
        response = response.header(name, value);
    }
    response
        .body(Full::new(Bytes::from(reply.body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// The webhook routes of every channel that has a configured provider, plus `GET /health`
/// (and `HEAD`; other methods are answered 405).
pub fn webhook_handler(services: Vec<WebhookService>) -> Handler {
    let services = Arc::new(services);
    Arc::new(move |req: Request<Bytes>| {
        let services = services.clone();
        Box::pin(async move {
            let path = req.uri().path().to_owned();
            if path == "/health" {
                return reply_response(match *req.method() {
                    Method::GET | Method::HEAD => Reply::json(200, r#"{"status":"ok"}"#.into()),
                    _ => Reply::from_error(&WebhookError::MethodNotAllowed {
                        allowed: HEALTH_METHODS,
                    }),
                });
            }
            let channel = path.trim_start_matches('/').split('/').next().unwrap_or("");
            let Some(service) = services.iter().find(|s| s.channel().as_str() == channel) else {
                return reply_response(Reply::from_error(&WebhookError::UnknownRoute));
            };
            let query = req.uri().query().map(str::to_owned);
            let (parts, body) = req.into_parts();
            let webhook = WebhookRequest::new(parts.method, path, query, parts.headers, body);
            reply_response(service.handle(webhook).await)
        })
    })
}
