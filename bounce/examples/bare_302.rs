//! The framework ceiling for `deploy/bench/release-day.sh`: a bare actix-web handler that
//! answers every request with the same static 302 (headers and body shaped like bounce's),
//! with no parsing, no lookup and no metrics.
//!
//! `cargo run --release -p bounce --example bare_302 -- [LISTEN [WORKERS]]` (default
//! 127.0.0.1:8091, actix's default worker count)

use actix_web::{http::header, web, App, HttpResponse, HttpServer};

const LOCATION: &str = "https://m1.example.org/pub/bench/1/en-US/setup.exe";
const BODY: &str = "<a href=\"https://m1.example.org/pub/bench/1/en-US/setup.exe\">Found</a>.\n\n";

async fn found() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::CACHE_CONTROL, "private, max-age=60"))
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::LOCATION, LOCATION))
        .body(BODY)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8091".to_owned());
    let mut server = HttpServer::new(|| App::new().default_service(web::to(found)));
    if let Some(workers) = args.next() {
        let workers = workers
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        server = server.workers(workers);
    }
    server.bind(listen)?.run().await
}
