use super::http_client;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// A TLS server on loopback presenting the local stack's self-signed SNS certificate (no
/// public root signed it, and it names another host), answering 200 to whoever completes
/// the handshake.
async fn untrusted_tls_server() -> std::net::SocketAddr {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/sns-dev");
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(format!("{dir}/certificate.pem"))
            .expect("certificate file")
            .collect::<Result<_, _>>()
            .expect("certificate");
    let key = PrivateKeyDer::from_pem_file(format!("{dir}/privatekey.pem")).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            if let Ok(mut tls) = acceptor.accept(tcp).await {
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        }
    });
    addr
}

#[tokio::test]
async fn a_server_whose_certificate_no_trusted_root_signed_is_refused() {
    let addr = untrusted_tls_server().await;
    let client = http_client().expect("client");
    let err = client
        .get(format!("https://{addr}/"))
        .send()
        .await
        .expect_err("an untrusted certificate must fail the request");
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(e) = source {
        chain.push_str(&format!(" / {e}"));
        source = e.source();
    }
    assert!(
        chain.contains("certificate"),
        "refused for its certificate, not for something else: {chain}"
    );
}
