//! A short request-reply exchange over tcp on tokio: a REP server task and
//! a REQ client, through tiermq's async API. Exits 0 once every reply came.
//!
//! `cargo run -p tiermq --example async_tokio`; with `--features tokio`,
//! tokio's reactor watches the sockets and each task reads its own
//! connections (one wake-up per hop instead of two).

use tiermq::{Context, REP, REQ};

#[tokio::main(flavor = "current_thread")]
async fn main() -> tiermq::Result<()> {
    let ctx = Context::new();
    let mut server = ctx.socket(REP)?.into_async();
    server.bind("tcp://127.0.0.1:*")?;
    let endpoint = server.get_last_endpoint()?.unwrap_or_default();

    // The socket moves into its own task: AsyncSocket futures are Send.
    let serving = tokio::spawn(async move {
        for _ in 0..3 {
            let request = server.recv().await?;
            let name = request[0].as_str().unwrap_or("?").to_owned();
            server.send([format!("hello, {name}")]).await?;
        }
        Ok::<_, tiermq::Error>(())
    });

    let mut client = ctx.socket(REQ)?.into_async();
    client.connect(&endpoint)?;
    for name in ["ada", "grace", "edsger"] {
        client.send([name]).await?;
        let reply = client.recv().await?;
        println!("{}", reply[0].as_str().unwrap_or("?"));
        assert_eq!(reply[0].as_str(), Some(format!("hello, {name}").as_str()));
    }
    serving.await.expect("the server task ran")?;
    Ok(())
}
