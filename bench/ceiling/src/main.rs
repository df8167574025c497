//! `bench-ceiling ADDRESS`: the ceiling of `cargo xtask bench`. One actix-web handler answers
//! `GET /` with a small JSON body, on the same actix-web (version, features, worker count: one per
//! core) as accountd, with no database, no blocking pool and no middleware. Whatever accountd
//! reaches is measured against what this reaches under the same load in the same run.

use actix_web::{App, HttpResponse, HttpServer, http::header::ContentType, web};

async fn ceiling() -> HttpResponse {
    // About the size of seed 000's body.
    HttpResponse::Ok().content_type(ContentType::json()).body(
        r#"{"ids":{"tenant_id":"Pie","group_id":"PieGroup"},"profile":{"user_level":8,"first_name":"John","last_name":"Doe","emailAddress":"john.doe@netaxis.be"},"username":"PieGroupAdmin1@sip.netaxis.be"}"#,
    )
}

fn main() -> std::io::Result<()> {
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18079".into());
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(|| App::new().route("/", web::get().to(ceiling)))
            .bind(&address)?
            .run();
        eprintln!("bench-ceiling listening on {address}");
        server.await
    })
}
