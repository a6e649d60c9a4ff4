//! The `wasm-smtp-send` binary against the local server on loopback: what it delivers,
//! its exit statuses and what it prints.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};
use tokio::net::TcpListener;
use wasm_smtp_mock::server::{LocalServer, ServerConfig};

const PASSWORD: &str = "s3cret-Passw0rd";

/// Run the binary with `args` and the password in `SMTP_PASSWORD`, off the runtime's
/// thread so that the in-process server keeps serving.
async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_wasm-smtp-send"))
            .args(&args)
            .env("SMTP_PASSWORD", PASSWORD)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn temp(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasm-smtp-send-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Setup {
    server: LocalServer,
    ca: PathBuf,
}

async fn setup(config: ServerConfig) -> Setup {
    let server = LocalServer::start(config).await.unwrap();
    let ca = temp(
        &format!("ca-{}.pem", server.port()),
        server.ca_pem().as_bytes(),
    );
    Setup { server, ca }
}

fn base(st: &Setup, scheme: &str) -> Vec<String> {
    s(&[
        "--server",
        &format!("{scheme}://localhost:{}", st.server.port()),
        "--ca-file",
        st.ca.to_str().unwrap(),
        "--from",
        "alice@example.com",
        "--to",
        "bob@example.com",
    ])
}

const MESSAGE: &[u8] = b"From: alice@example.com\nSubject: cli\n\n.dot\nbody\n";
const ON_THE_WIRE: &[u8] = b"From: alice@example.com\r\nSubject: cli\r\n\r\n.dot\r\nbody\r\n";

#[tokio::test]
async fn the_demo_runs_offline_and_verifies_itself() {
    let out = run(vec![]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("C: AUTH PLAIN <redacted>"), "{stdout}");
    assert!(stdout.contains("identical to the message sent"), "{stdout}");
}

#[tokio::test]
async fn starttls_auth_from_a_file_verbose_without_the_password() {
    let st = setup(ServerConfig::starttls().user("alice", PASSWORD)).await;
    let file = temp("m1.eml", MESSAGE);
    let mut args = base(&st, "smtp+starttls");
    args.extend(s(&["--user", "alice", "-v", file.to_str().unwrap()]));
    let out = run(args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("delivered to 1 of 1 recipients"), "{all}");
    assert!(all.contains("C: AUTH PLAIN <redacted>"), "{all}");
    assert!(!all.contains(PASSWORD), "{all}");
    let got = st.server.messages();
    assert_eq!(got[0].data, ON_THE_WIRE);
    assert!(got[0].tls);
}

#[tokio::test]
async fn implicit_tls_from_stdin() {
    let st = setup(ServerConfig::implicit_tls().user("alice", PASSWORD)).await;
    let mut args = base(&st, "smtps");
    args.extend(s(&["--user", "alice"]));
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_wasm-smtp-send"))
            .args(&args)
            .env("SMTP_PASSWORD", PASSWORD)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(MESSAGE).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(st.server.messages()[0].data, ON_THE_WIRE);
}

#[tokio::test]
async fn exit_statuses_tell_the_failures_apart() {
    let st = setup(
        ServerConfig::starttls()
            .user("alice", PASSWORD)
            .reject_recipients_starting_with("nobody"),
    )
    .await;
    let file = temp("m2.eml", MESSAGE);
    let f = file.to_str().unwrap().to_owned();

    // 77: wrong password (the variable holds another one).
    let mut args = base(&st, "smtp+starttls");
    args.extend(s(&["--user", "mallory", &f]));
    let out = run(args).await;
    assert_eq!(out.status.code(), Some(77), "{}", text(&out));
    assert!(
        text(&out).contains("authentication failed"),
        "{}",
        text(&out)
    );

    // 69: one of two recipients refused with 550: delivered to the other, and said so.
    let mut args = base(&st, "smtp+starttls");
    args.extend(s(&["--user", "alice", "--to", "nobody@example.com", &f]));
    let out = run(args).await;
    assert_eq!(out.status.code(), Some(69), "{}", text(&out));
    assert!(
        text(&out).contains("delivered to 1 of 2 recipients"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("refused: nobody@example.com"),
        "{}",
        text(&out)
    );

    // 78: the server's CA is not trusted (default roots).
    let out = run(s(&[
        "--server",
        &format!("smtp+starttls://localhost:{}", st.server.port()),
        "-f",
        "a@example.com",
        "-t",
        "b@example.com",
        &f,
    ]))
    .await;
    assert_eq!(out.status.code(), Some(78), "{}", text(&out));
    assert!(text(&out).contains("--ca-file"), "{}", text(&out));

    // 78: STARTTLS required but not offered.
    let plain = setup(ServerConfig::plaintext()).await;
    let mut args = base(&plain, "smtp+starttls");
    args.push(f.clone());
    let out = run(args).await;
    assert_eq!(out.status.code(), Some(78), "{}", text(&out));

    // 75: nothing listens on the port.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let out = run(s(&[
        "--server",
        &format!("smtp://127.0.0.1:{port}"),
        "-f",
        "a@example.com",
        "-t",
        "b@example.com",
        &f,
    ]))
    .await;
    assert_eq!(out.status.code(), Some(75), "{}", text(&out));

    // 66: unreadable message file; 64: usage, including a password on the command line.
    let mut args = base(&st, "smtp+starttls");
    args.push("/nonexistent/message.eml".into());
    assert_eq!(run(args).await.status.code(), Some(66));
    let out = run(s(&["--password", PASSWORD])).await;
    assert_eq!(out.status.code(), Some(64));
    assert!(!text(&out).contains(PASSWORD), "{}", text(&out));
    let mut args = base(&st, "smtp+starttls");
    args.extend(s(&[
        "--user",
        "alice",
        "--password-env",
        "WASM_SMTP_UNSET_VARIABLE",
        &f,
    ]));
    assert_eq!(run(args).await.status.code(), Some(64));
    // Only the partial delivery reached the server.
    let got = st.server.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt_to, ["bob@example.com"]);
}
