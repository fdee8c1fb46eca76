//! A trivial upstream for the gateway benchmark: answers every request with the same
//! ~100-byte JSON body. `echo-upstream <port> [workers]`.

use actix_web::{App, HttpResponse, HttpServer, web};

const BODY: &str = r#"{"trip":"lijiang-old-town","status":"on_sale","price_cents":128000,"rating":4.7,"tags":["culture"]}"#;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().unwrap_or_else(|| "9000".into()).parse()?;
    let workers: usize = args.next().unwrap_or_else(|| "1".into()).parse()?;
    HttpServer::new(|| {
        App::new().default_service(web::to(|| async {
            HttpResponse::Ok()
                .content_type("application/json")
                .body(BODY)
        }))
    })
    .workers(workers)
    // As every service: idle connections outlive the callers' pools (actix's default of
    // 5 s closed one as the gateway reused it, a 502 mid-benchmark).
    .keep_alive(shared::server::KEEP_ALIVE)
    .bind(("127.0.0.1", port))?
    .run()
    .await?;
    Ok(())
}
