//! The stories, in the order the example tells them; each builds on the accounts the earlier
//! ones made.

use super::support::{Browser, Driver, Server};

pub const OWNER: &str = "olivia@example.com";
pub const OWNER_PW: &str = "a long owner passphrase 2024";

/// Runs every story.
pub async fn run(driver: &Driver, server: &Server) {
    let owner_key = sign_up_and_turn_on_mfa(driver, server).await;
    eprintln!("story a (sign up, MFA on the account page): ok");
    company_mfa(driver, server, &owner_key).await;
    eprintln!("story b (company MFA, forced): ok");
}

/// Signs in with the password and, when asked, a code from the app holding `key`.
pub async fn sign_in(b: &Browser, server: &Server, login: &str, password: &str, key: Option<&str>) {
    b.goto("/login").await;
    b.fill("#login", login).await;
    b.fill("#password", password).await;
    b.click("#sign-in").await;
    if let Some(key) = key {
        b.find("#code").await;
        assert_eq!(b.path().await, "/login/verify");
        server.next_code_window();
        b.fill("#code", &server.totp(key)).await;
        b.click("#verify").await;
    }
    b.find("#who").await;
}

/// (a) Sign up, sign out and in; Account info → Multi-Factor Authentication → Activate: the
/// QR code and manual key (the same after a reload, a new one only after "Start over"), the
/// code, the recovery codes and "I have safely recorded this number". Returns the owner's key.
async fn sign_up_and_turn_on_mfa(driver: &Driver, server: &Server) -> String {
    let b = Browser::open(driver, &server.base).await;
    b.goto("/").await;
    b.shot("01-home").await;
    b.click("#start-signup").await;
    b.fill("#login", OWNER).await;
    b.fill("#password", OWNER_PW).await;
    b.submit("#signup", "#mfa-section").await;
    assert_eq!(b.path().await, "/account");
    assert_eq!(b.text("#account-login").await, OWNER);
    assert_eq!(b.text("#account-role").await, "Owner");
    assert_eq!(b.text("#mfa-status").await, "Not active");
    b.shot("02-account-info").await;

    // Sign out, and back in with the password alone.
    b.submit("#sign-out", "#sign-in").await;
    assert_eq!(b.path().await, "/login");
    b.goto("/account").await;
    b.find("#sign-in").await;
    assert_eq!(
        b.path().await,
        "/login",
        "signed out: the account page sends to sign-in"
    );
    b.fill("#login", OWNER).await;
    b.fill("#password", "not the password at all").await;
    b.click("#sign-in").await;
    assert_eq!(b.text("#error-title").await, "That did not match");
    sign_in(&b, server, OWNER, OWNER_PW, None).await;

    // Activate: the QR code and the manual key.
    b.goto("/account").await;
    b.submit("#mfa-activate", "#manual-key").await;
    assert!(b.has("#qr svg").await, "the QR code is drawn");
    let first = b.text("#manual-key").await;
    b.shot("03-enrollment").await;
    b.client.refresh().await.expect("a reload");
    assert_eq!(
        b.text("#manual-key").await,
        first,
        "a reload shows the same secret"
    );
    b.submit("#start-over", "#manual-key").await;
    let key = b.text("#manual-key").await;
    assert_ne!(key, first, "start over makes a new secret");
    b.goto("/account/mfa").await;
    assert_eq!(b.text("#manual-key").await, key);

    // A code from the abandoned secret does not confirm; the new one does.
    b.fill("#code", &server.totp(&first)).await;
    b.click("#continue").await;
    assert_eq!(b.text("#error-title").await, "That did not match");
    b.goto("/account/mfa").await;
    b.fill("#code", &server.totp(&key)).await;
    b.submit("#continue", "#recovery-codes").await;
    let codes = b.text("#recovery-codes").await;
    assert!(codes.lines().count() >= 5, "recovery codes shown: {codes}");
    b.shot("04-recovery-codes").await;
    b.click("#recorded").await;
    b.submit("#acknowledge", "#mfa-section").await;
    assert_eq!(b.text("#mfa-status").await, "Active");
    b.shot("05-mfa-active").await;

    // The next sign-in asks for the code.
    b.submit("#sign-out", "#sign-in").await;
    sign_in(&b, server, OWNER, OWNER_PW, Some(&key)).await;
    assert_eq!(b.path().await, "/account");
    assert_eq!(b.text("#mfa-status").await, "Active");
    b.close().await;
    key
}

/// (b) The company profile: company MFA and "Force every user to use MFA before accessing the
/// Company Account", saved with Save changes.
async fn company_mfa(driver: &Driver, server: &Server, owner_key: &str) {
    let b = Browser::open(driver, &server.base).await;
    sign_in(&b, server, OWNER, OWNER_PW, Some(owner_key)).await;
    b.click("#nav-company").await;
    b.find("#save-changes").await;
    assert_eq!(b.text("#company-status").await, "off");
    assert!(!b.has("#owner-needs-mfa").await);
    b.click("#company-mfa").await;
    b.click("#force-mfa").await;
    b.submit("#save-changes", "#saved").await;
    assert_eq!(b.text("#company-status").await, "required for every user");
    b.shot("06-company-profile").await;
    b.close().await;
}
