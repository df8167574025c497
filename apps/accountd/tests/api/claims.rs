//! Issue 15, "faults stay where they happen": an Application Server call runs outside any database
//! transaction, under a per-user claim. A slow AS call for one user does not hold up other users'
//! logins; two changes of one user end in the same order on the AS and locally; a local write
//! that fails after the AS accepted puts the AS back.

use crate::helpers::*;
use accountd_policy::mode::LoginMode;
use reqwest::StatusCode;
use std::time::{Duration, Instant};

async fn dedicated() -> TestApp {
    spawn_with(Spawn {
        mode: LoginMode::LocalLoginDedicated,
        ..Spawn::default()
    })
    .await
}

#[actix_web::test]
async fn a_slow_application_server_call_does_not_hold_up_other_users_logins() {
    let app = dedicated().await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    let delay = Duration::from_millis(3000);
    app.upstream.set_delay(Some(delay));
    let slow = async {
        let started = Instant::now();
        let response = rename(&app, &xsrf, "Slow").await;
        (response.status(), started.elapsed())
    };
    let login = async {
        // Well inside the slow change's AS call.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let status = app
            .login_with(&app.fresh_client(), "foouser", DEMO_PASSWORD)
            .await
            .status();
        (status, started.elapsed())
    };
    let ((slow_status, slow_took), (login_status, login_took)) = tokio::join!(slow, login);
    println!(
        "LOCAL_LOGIN_DEDICATED: another user's login took {} ms while a profile change's AS call took {} ms \
         (the change answered after {} ms)",
        login_took.as_millis(),
        delay.as_millis(),
        slow_took.as_millis()
    );
    assert_eq!(slow_status, StatusCode::OK);
    assert_eq!(login_status, StatusCode::OK);
    // With the AS call inside the write transaction (before issue 15) the login waited for the
    // rest of it: ~2.2 s here. A loose bound, far above a login's own time.
    assert!(
        login_took < delay / 2,
        "the login waited for the other user's AS call: {login_took:?}"
    );
    assert!(slow_took >= delay);
}

#[actix_web::test]
async fn two_changes_of_one_user_end_in_the_same_order_on_the_application_server_and_locally() {
    let app = dedicated().await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    app.upstream.set_delay(Some(Duration::from_millis(1000)));
    let first = rename(&app, &xsrf, "First");
    let second = async {
        // Starts while the first one's AS call is under way: it waits for the user's claim.
        tokio::time::sleep(Duration::from_millis(300)).await;
        rename(&app, &xsrf, "Second").await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK);
    app.upstream.set_delay(None);
    let stored = stored_first_name(&app).await;
    let on_the_as = upstream_first_name(&app, GROUP_ADMIN);
    println!("after two concurrent renames: stored {stored:?}, on the AS {on_the_as:?}");
    assert_eq!(on_the_as.as_deref(), Some(stored.as_str()));
    assert_eq!(stored, "Second", "the second change waited for the first");
    let names: Vec<String> = app
        .upstream
        .profile_changes_of(GROUP_ADMIN)
        .iter()
        .filter_map(|c| c.first_name.as_ref().map(|n| n.to_string()))
        .collect();
    assert_eq!(names, ["First", "Second"]);
}

#[actix_web::test]
async fn a_local_write_failing_after_the_application_server_accepted_puts_the_application_server_back() {
    let app = dedicated().await;
    let xsrf = app.login_ok(&app.client, GROUP_ADMIN).await;
    let before = stored_first_name(&app).await;
    app.upstream.set_delay(Some(Duration::from_millis(800)));
    let change = rename(&app, &xsrf, "Diverging");
    // A write the claim does not order (straight into the store), during the AS call: the
    // change's local write then finds another version.
    let interleaved = touch_during_the_call(&app, GROUP_ADMIN);
    let (response, ()) = tokio::join!(change, interleaved);
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    app.upstream.set_delay(None);
    assert_eq!(stored_first_name(&app).await, before);
    // The AS got the change, then the revert to the previous name.
    let names: Vec<String> = app
        .upstream
        .profile_changes_of(GROUP_ADMIN)
        .iter()
        .filter_map(|c| c.first_name.as_ref().map(|n| n.to_string()))
        .collect();
    assert_eq!(names, ["Diverging".to_owned(), before.clone()]);
    assert_eq!(upstream_first_name(&app, GROUP_ADMIN), Some(before));
}
