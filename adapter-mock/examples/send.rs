//! Send one message through the SMTP engine against the mock's scripted server and print
//! the transcript (`C:` client, `S:` server; AUTH secrets redacted).
//!
//! ```text
//! cargo run -p wasm-smtp-mock --example send
//! ```
//!
//! The scripted server checks every byte the client writes; a difference makes the
//! program fail with the first mismatch. Until a network adapter exists this is the way to
//! watch the engine work end to end.

use wasm_smtp_core::{SmtpClient, SmtpError};
use wasm_smtp_mock::{block_on, Script};

const EHLO: &str = "client.example.com";
const FROM: &str = "alice@example.com";
const TO: [&str; 2] = ["bob@example.com", "carol@example.com"];
const MESSAGE: &str = "From: Alice <alice@example.com>\n\
To: Bob <bob@example.com>, Carol <carol@example.com>\n\
Subject: Hello from wasm-smtp\n\
\n\
Hi both,\n\
.this line starts with a dot and is dot-stuffed on the wire.\n\
Bye.\n";

fn main() {
    // What the server says and what the client must write, byte for byte.
    let (transport, server) = Script::new()
        .greeting()
        .ehlo(EHLO, &["PIPELINING", "STARTTLS", "8BITMIME"])
        .starttls()
        .ehlo(
            EHLO,
            &[
                "PIPELINING",
                "AUTH PLAIN LOGIN",
                "SIZE 35882577",
                "8BITMIME",
            ],
        )
        .auth_plain("alice", "correct horse battery staple")
        // PIPELINING: MAIL, both RCPTs and DATA in one flight, then the four replies.
        .write(b"MAIL FROM:<alice@example.com> SIZE=198\r\n")
        .write(b"RCPT TO:<bob@example.com>\r\nRCPT TO:<carol@example.com>\r\nDATA\r\n")
        .read(
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n\
550 5.1.1 <carol@example.com>: Recipient address rejected\r\n\
354 End data with <CR><LF>.<CR><LF>\r\n",
        )
        .write(
            "From: Alice <alice@example.com>\r\n\
To: Bob <bob@example.com>, Carol <carol@example.com>\r\n\
Subject: Hello from wasm-smtp\r\n\
\r\n\
Hi both,\r\n\
..this line starts with a dot and is dot-stuffed on the wire.\r\n\
Bye.\r\n\
.\r\n",
        )
        .read(b"250 2.0.0 Ok: queued as 4F2A1C0FFEE\r\n")
        .quit()
        .build();

    let result = block_on(async {
        let mut client = SmtpClient::connect(transport, EHLO).await?;
        client
            .login("alice", "correct horse battery staple")
            .await?;
        let outcome = client.send_mail(FROM, &TO, MESSAGE).await?;
        client.quit().await?;
        Ok::<_, SmtpError>(outcome)
    });

    println!("{}", server.transcript_text());
    if let Err(mismatch) = server.finish() {
        eprintln!("the client did not follow the script: {mismatch}");
        std::process::exit(1);
    }
    match result {
        Ok(outcome) => {
            println!();
            println!(
                "delivered to {} of {} recipients: {} {}",
                outcome.accepted_count(),
                outcome.recipients(),
                outcome.reply.code,
                outcome.reply.text
            );
            for i in outcome.rejected() {
                if let Some(r) = outcome.first_rejection() {
                    println!("refused: {} ({r})", TO[i]);
                }
            }
            println!("round trips: {}", server.round_trips());
        }
        Err(e) => {
            eprintln!("send failed: {e}");
            std::process::exit(1);
        }
    }
}
