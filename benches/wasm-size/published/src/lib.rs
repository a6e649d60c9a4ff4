//! (p) of the size report: the same Worker as (b) (`../smtp`), through the published
//! `wasm-smtp-cloudflare` 0.18 (another project of that name on the crate registry, the
//! crate this library replaces): STARTTLS on port 587, AUTH, one message, QUIT. Settings
//! come from `env.var(...)`; the HTTP handling is the same as the floor's. On failure
//! the Worker answers with the error's `Display` text, as real Workers do (the same in
//! `../published`).

use wasm_smtp_cloudflare::{connect_smtp_starttls, SmtpError as Error};
use worker::wasm_bindgen::JsValue;
use worker::{event, Context, Env, Request, Response, Result};

/// A var as a string; empty when unset.
fn var(env: &Env, name: &str) -> String {
    env.var(name)
        .ok()
        .and_then(|v| AsRef::<JsValue>::as_ref(&v).as_string())
        .unwrap_or_default()
}

async fn run(env: &Env) -> core::result::Result<(), Error> {
    let host = var(env, "SMTP_HOST");
    let port = var(env, "SMTP_PORT").parse().unwrap_or(587);
    let ehlo = var(env, "EHLO_DOMAIN");
    let mut client = connect_smtp_starttls(&host, port, &ehlo).await?;
    client
        .login(&var(env, "SMTP_USER"), &var(env, "SMTP_PASSWORD"))
        .await?;
    let to = var(env, "MAIL_TO");
    client
        .send_mail(&var(env, "MAIL_FROM"), &[to.as_str()], &var(env, "MESSAGE"))
        .await?;
    client.quit().await?;
    Ok(())
}

#[event(fetch)]
async fn fetch(_req: Request, env: Env, _ctx: Context) -> Result<Response> {
    match run(&env).await {
        Ok(()) => Response::ok("sent"),
        Err(e) => Response::error(e.to_string(), 502),
    }
}
