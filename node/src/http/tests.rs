//! The hardening layers on routes that provoke what the node's own
//! routes never do (a JSON extractor's 415, a slow read handler, a
//! panic), served by [`serve`] on loopback.

use super::*;
use tokio::sync::oneshot;

/// answer serves `routes` hardened with a 1 s deadline and sends one request.
fn answer(routes: Router, method: &str, path: &str, ct: Option<&str>) -> (u16, String, Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{path}", l.local_addr().unwrap());
        let limits = Limits {
            idle_timeout: Duration::from_secs(5),
            max_connections: 4,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            l,
            harden(routes, Duration::from_secs(1)),
            limits,
            async {
                let _ = stopped.await;
            },
        ));
        let mut req = reqwest::Client::new()
            .request(method.parse().unwrap(), url)
            .body("{}");
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or(Value::Null);
        let _ = stop.send(());
        server.await.unwrap();
        (status, ct, body)
    })
}

fn assert_problem(got: (u16, String, Value), status: u16, code: &str) {
    let (s, ct, body) = got;
    assert_eq!(
        (s, ct.as_str()),
        (status, "application/problem+json"),
        "{body}"
    );
    assert_eq!(body["type"], format!("{PROBLEM_BASE}{code}"), "{body}");
    assert_eq!(body["status"], status);
}

#[test]
fn a_json_extractor_rejection_is_a_problem() {
    let r = Router::new().route("/j", post(|_: axum::Json<Value>| async { "ok" }));
    assert_problem(
        answer(r.clone(), "POST", "/j", Some("text/plain")),
        415,
        "unsupported-media-type",
    );
    assert_eq!(answer(r, "POST", "/j", Some("application/json")).0, 200);
}

#[test]
fn a_slow_read_is_cut_with_a_408_problem() {
    let r = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    );
    assert_problem(answer(r, "GET", "/slow", None), 408, "request-timeout");
}

#[test]
fn a_panicking_handler_is_a_500_problem() {
    let r = Router::new().route(
        "/boom",
        get(|| async {
            if true {
                panic!("handler bug");
            }
            "unreachable"
        }),
    );
    assert_problem(answer(r, "GET", "/boom", None), 500, "internal");
}

#[test]
fn a_deliberate_media_type_on_an_error_passes_unchanged() {
    // C2SP tlog-witness: 409 carries the witness's size as text/x.tlog.size.
    let r = Router::new().route(
        "/add-checkpoint",
        post(|| async {
            (
                StatusCode::CONFLICT,
                [(header::CONTENT_TYPE, "text/x.tlog.size")],
                "7\n",
            )
        }),
    );
    let (s, ct, _) = answer(r, "POST", "/add-checkpoint", None);
    assert_eq!((s, ct.as_str()), (409, "text/x.tlog.size"));
}
