//! HttpTarget over TLS, against a local server whose certificate comes from a private CA.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::routing::post;
use axum::{Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use perf_core::{BotTarget, ErrorKind};
use perf_targets::{HttpTarget, HttpTargetConfig, HttpVersion, TargetsError};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use tokio::net::TcpListener;

use crate::support::query;

/// A CA (as PEM) and a certificate and key for `localhost` signed by it.
pub(crate) struct Pki {
    ca_pem: String,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

pub(crate) fn pki() -> anyhow::Result<Pki> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let key = KeyPair::generate()?;
    let cert = CertificateParams::new(vec!["localhost".to_owned()])?.signed_by(&key, &ca)?;
    Ok(Pki {
        ca_pem: ca.pem(),
        cert: cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
    })
}

/// Serves `POST /q` over TLS offering `alpn`; the answer is the HTTP version it was asked in.
pub(crate) async fn serve_tls(pki: &Pki, alpn: &[&[u8]]) -> anyhow::Result<SocketAddr> {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(vec![pki.cert.clone()], pki.key.clone_key())?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let router = Router::new().route(
        "/q",
        post(|request: Request| async move {
            Json(json!({"answer": format!("{:?}", request.version())}))
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let service = hyper_util::service::TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

fn config(addr: SocketAddr, ca_file: Option<std::path::PathBuf>) -> HttpTargetConfig {
    let mut c = HttpTargetConfig::new(format!("https://localhost:{}/q", addr.port()));
    c.tls_ca_file = ca_file;
    c
}

#[tokio::test]
async fn https_speaks_what_alpn_chose() -> anyhow::Result<()> {
    let pki = pki()?;
    let dir = tempfile::tempdir()?;
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem)?;
    let both = serve_tls(&pki, &[b"h2", b"http/1.1"]).await?;
    let h1_only = serve_tls(&pki, &[b"http/1.1"]).await?;

    for (addr, version, expected) in [
        (both, HttpVersion::Auto, "HTTP/2.0"),
        (both, HttpVersion::Http2, "HTTP/2.0"),
        (both, HttpVersion::Http1, "HTTP/1.1"),
        (h1_only, HttpVersion::Auto, "HTTP/1.1"),
    ] {
        let mut c = config(addr, Some(ca.clone()));
        c.http_version = version;
        let target = HttpTarget::new(c)?;
        // Twice: the second query goes over the pooled (or shared) connection.
        for round in 0..2 {
            let answer = target.execute(&query("t", "hello")).await?.answer;
            assert_eq!(answer, expected, "{version:?}, round {round}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_connect_error() -> anyhow::Result<()> {
    let pki = pki()?;
    let addr = serve_tls(&pki, &[b"http/1.1"]).await?;
    let target = HttpTarget::new(config(addr, None))?;
    let e = match target.execute(&query("t", "hello")).await {
        Ok(r) => panic!("expected a TLS failure, got {r:?}"),
        Err(e) => e,
    };
    assert_eq!(e.kind, ErrorKind::Connect, "{e}");
    assert!(e.message.to_lowercase().contains("certificate"), "{e}");
    Ok(())
}

#[tokio::test]
async fn a_bad_ca_file_is_a_config_error_naming_the_key() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "this is not a certificate\n")?;
    for path in [not_pem, dir.path().join("missing.pem")] {
        match HttpTarget::new(config("127.0.0.1:9".parse()?, Some(path.clone()))) {
            Err(e @ TargetsError::Config { .. }) => {
                let text = e.to_string();
                assert!(text.contains("target.tls_ca_file"), "{text}");
                assert!(text.contains(&path.display().to_string()), "{text}");
            }
            other => panic!(
                "expected a config error for {}, got {other:?}",
                path.display()
            ),
        }
    }
    Ok(())
}
