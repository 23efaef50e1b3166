//! The physical limit for `bench/run`: a bare hyper server that answers every request with
//! `/healthz`'s body — no router, no layers, no logging; the same hyper, the same allocator
//! (mimalloc) and the same HTTP/1.1 settings as keyward's accept loop. It runs on tokio's
//! shared runtime, not on a thread per core as keyward does: served that way it measured
//! 0.93–0.99 of this (BENCHMARKS.md, eleventh pass), and the limit is the faster of the two.
//!
//!     cargo run --release --example hello -- 127.0.0.1:8081

use std::convert::Infallible;

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Response};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("hello: serving on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|_req| async {
                let mut res = Response::new(Body::from(r#"{"status":"ok"}"#));
                res.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Ok::<_, Infallible>(res)
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
