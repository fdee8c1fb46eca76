//! RSA2 as Alipay does it, written apart from payment-service's client so that each side
//! checks the other: SHA256withRSA, PKCS#1 v1.5, base64; keys as PEM.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{
    KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A private key (PKCS#8 or PKCS#1 PEM) that signs.
pub struct Signer(KeyPair);

impl Signer {
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let (label, der) = pem_der(pem)?;
        let pair = if label == "RSA PRIVATE KEY" {
            KeyPair::from_der(&der)
        } else {
            KeyPair::from_pkcs8(&der)
        }
        .map_err(|err| anyhow::anyhow!("not an RSA private key: {err}"))?;
        Ok(Self(pair))
    }

    pub fn sign(&self, text: &str) -> anyhow::Result<String> {
        let mut signature = vec![0; self.0.public_modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                text.as_bytes(),
                &mut signature,
            )
            .map_err(|_| anyhow::anyhow!("signing failed"))?;
        Ok(STANDARD.encode(signature))
    }

    pub fn public_pem(&self) -> anyhow::Result<String> {
        let der: PublicKeyX509Der<'static> = self
            .0
            .public_key()
            .as_der()
            .map_err(|_| anyhow::anyhow!("cannot encode the public key"))?;
        Ok(pem("PUBLIC KEY", der.as_ref()))
    }
}

/// A public key (SubjectPublicKeyInfo PEM) that verifies.
pub struct Verifier(Vec<u8>);

impl Verifier {
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        Ok(Self(pem_der(pem)?.1))
    }

    pub fn verify(&self, text: &str, signature: &str) -> bool {
        let Ok(signature) = STANDARD.decode(signature) else {
            return false;
        };
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.0)
            .verify(text.as_bytes(), &signature)
            .is_ok()
    }
}

/// A fresh 2048-bit private key, PKCS#8 PEM.
pub fn generate_private_pem() -> anyhow::Result<String> {
    let pair = KeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
    let der: Pkcs8V1Der<'static> = pair
        .as_der()
        .map_err(|_| anyhow::anyhow!("cannot encode the key"))?;
    Ok(pem("PRIVATE KEY", der.as_ref()))
}

/// `k=v&…` sorted by key, without `skip` keys and empty values.
pub fn signing_text(params: &[(String, String)], skip: &[&str]) -> String {
    let mut pairs: Vec<&(String, String)> = params
        .iter()
        .filter(|(k, v)| !v.is_empty() && !skip.contains(&k.as_str()))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn pem_der(pem: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let mut lines = pem.lines().map(str::trim).filter(|l| !l.is_empty());
    let label = lines
        .next()
        .and_then(|l| l.strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or_else(|| anyhow::anyhow!("not PEM"))?
        .to_owned();
    let body: String = lines.take_while(|l| !l.starts_with("-----END")).collect();
    Ok((label, STANDARD.decode(body)?))
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}
