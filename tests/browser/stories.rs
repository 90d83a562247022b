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
    let owner = Browser::open(driver, &server.base).await;
    sign_in(&owner, server, OWNER, OWNER_PW, Some(&owner_key)).await;
    let uma = add_user_and_first_login(driver, server, &owner, "uma@example.com", "User").await;
    eprintln!(
        "stories c and d (Add User, setup e-mail, password change, Company Account Verification): ok"
    );
    let max = add_user_and_first_login(driver, server, &owner, "max@example.com", "Manager").await;
    let ada = add_user_and_first_login(driver, server, &owner, "ada@example.com", "Admin").await;
    owner.close().await;
    roles(driver, server, &uma, &max, &ada).await;
    eprintln!("story e (what each role sees; forbidden pages answer 403): ok");
    phone_recovery_and_throttle(driver, server, &uma).await;
    eprintln!("story f (phone, SMS sign-in, recovery code, throttled codes): ok");
    sessions(driver, server, &max).await;
    eprintln!("story g (where you're signed in, sign out everywhere): ok");
    backup_and_reset(driver, server, &owner_key, &uma).await;
    eprintln!("story g (a backup person, an admin MFA reset): ok");
    #[cfg(feature = "passkeys")]
    {
        passkeys(driver, server, &owner_key).await;
        eprintln!("story h (passkeys: add with step-up, second factor, passwordless, remove): ok");
        first_passkey(driver, server).await;
        eprintln!("story h (a first passkey's recovery codes; the last factor kept): ok");
    }
}

/// Answers the step-up page with a passkey, back to the page that asked.
#[cfg(feature = "passkeys")]
async fn step_up_with_passkey(b: &Browser) {
    assert_eq!(b.text("#error-title").await, "Confirm it is you");
    assert!(
        b.text("#error-message")
            .await
            .contains("Or confirm with your passkey."),
        "the step-up offers the passkey"
    );
    b.follow("#step-up-passkey").await;
}

/// (h) Passkeys, with Chromium's virtual authenticator: the owner adds one from Account info
/// (after the step-up: her password and an app code), signs in with the password and the
/// passkey as the second factor, then with the passkey alone, and removes it (the step-up
/// with the passkey).
#[cfg(feature = "passkeys")]
async fn passkeys(driver: &Driver, server: &Server, owner_key: &str) {
    let b = Browser::open(driver, &server.base).await;
    let authenticator = b.add_virtual_authenticator().await;
    sign_in(&b, server, OWNER, OWNER_PW, Some(owner_key)).await;
    b.goto("/account").await;
    assert_eq!(b.text("#passkeys-none").await, "You have no passkeys yet.");
    b.shot("18-account-passkeys").await;

    // Adding one needs a fresh second factor: the step-up page, then the page again.
    server.clock.advance(600);
    b.fill("#passkey-name", "Olivia's laptop").await;
    b.follow("#passkey-add").await;
    assert_eq!(b.text("#error-title").await, "Confirm it is you");
    assert!(
        !b.has("#step-up-passkey").await,
        "no passkey yet to step up with"
    );
    b.fill("#step-password", OWNER_PW).await;
    server.next_code_window();
    b.fill("#step-code", &server.totp(owner_key)).await;
    b.submit("#step-up", "#passkey-create").await;
    assert_eq!(b.path().await, "/account/passkeys/new");
    assert_eq!(b.text("#passkey-name-shown").await, "Olivia's laptop");
    b.shot("19-add-passkey").await;
    b.submit("#passkey-create", "#passkeys").await;
    assert_eq!(b.path().await, "/account");
    let row = b.text("#passkeys .passkey").await;
    assert!(
        row.contains("Olivia's laptop") && row.contains("never"),
        "{row}"
    );
    assert_eq!(b.virtual_credentials(&authenticator).await, 1);
    b.shot("20-passkey-listed").await;
    let mail = b.outbox().await;
    assert!(
        mail[0].contains(&format!("E-mail to {OWNER}"))
            && mail[0].contains("or a passkey) was added"),
        "{mail:?}"
    );

    // The password, then the passkey as the second factor.
    b.goto("/account").await;
    b.submit("#sign-out", "#sign-in").await;
    b.fill("#login", OWNER).await;
    b.fill("#password", OWNER_PW).await;
    b.submit("#sign-in", "#use-passkey").await;
    assert!(b.has("#code").await, "the app code is offered too");
    assert!(!b.has("#send-sms").await, "no phone: no text-message offer");
    b.shot("21-second-factor-passkey").await;
    b.submit("#use-passkey", "#who").await;
    assert_eq!(b.path().await, "/account");
    assert_eq!(b.text("#who").await, OWNER);

    // The passkey alone: no e-mail address, no password.
    b.submit("#sign-out", "#passkey-sign-in").await;
    b.shot("22-sign-in-with-passkey").await;
    b.submit("#passkey-sign-in", "#who").await;
    assert_eq!(b.path().await, "/account");
    assert_eq!(b.text("#who").await, OWNER);
    assert_eq!(b.text("#mfa-status").await, "Active");
    assert!(
        b.text("#passkeys .passkey").await.contains("just now"),
        "last used"
    );

    // Removing it needs a fresh factor again: the passkey answers the step-up.
    server.clock.advance(600);
    b.follow("#passkeys .passkey-remove").await;
    step_up_with_passkey(&b).await;
    b.find("#passkeys").await;
    b.follow("#passkeys .passkey-remove").await;
    b.find("#passkeys-none").await;
    assert_eq!(b.path().await, "/account");
    b.shot("23-passkey-removed").await;
    b.close().await;
}

/// (h) A first passkey is a first factor: its recovery codes are shown with the "I have
/// safely recorded this number" checkbox, as for the first app. Once the company forces MFA,
/// the passkey is the owner's last factor, and removing it is refused with a clear message.
#[cfg(feature = "passkeys")]
async fn first_passkey(driver: &Driver, server: &Server) {
    let b = Browser::open(driver, &server.base).await;
    b.add_virtual_authenticator().await;
    b.goto("/signup").await;
    b.fill("#login", "pia@example.com").await;
    b.fill("#password", "pia's own long passphrase 77").await;
    b.submit("#signup", "#passkeys-none").await;
    b.fill("#passkey-name", "Security key").await;
    b.submit("#passkey-add", "#passkey-create").await;
    b.submit("#passkey-create", "#recovery-codes").await;
    assert!(b.text("#recovery-codes").await.lines().count() >= 5);
    b.shot("24-first-passkey-recovery-codes").await;
    b.click("#recorded").await;
    b.submit("#acknowledge", "#passkeys").await;
    assert_eq!(b.text("#mfa-status").await, "Active");
    assert!(b.text("#passkeys .passkey").await.contains("Security key"));

    // Company MFA, forced: the passkey counts as the owner's own MFA.
    b.follow("#nav-company").await;
    b.click("#company-mfa").await;
    b.click("#force-mfa").await;
    b.submit("#save-changes", "#saved").await;
    assert_eq!(b.text("#company-status").await, "required for every user");

    // With a passkey and no app, the password is followed by the passkey alone (no code form,
    // no text message: no phone).
    b.submit("#sign-out", "#sign-in").await;
    b.fill("#login", "pia@example.com").await;
    b.fill("#password", "pia's own long passphrase 77").await;
    b.submit("#sign-in", "#use-passkey").await;
    assert!(!b.has("#code").await && !b.has("#send-sms").await);
    assert!(b.has("#use-recovery").await);
    b.submit("#use-passkey", "#passkeys").await;
    assert_eq!(b.text("#who").await, "pia@example.com");

    b.follow("#passkeys .passkey-remove").await;
    if b.text("#error-title").await == "Confirm it is you" {
        step_up_with_passkey(&b).await;
        b.find("#passkeys").await;
        b.follow("#passkeys .passkey-remove").await;
    }
    assert_eq!(
        b.text("#error-title").await,
        "Keep at least one second factor"
    );
    assert!(
        b.text("#error-message")
            .await
            .contains("Your company requires MFA for every user")
    );
    assert!(
        b.has("#sign-out").await,
        "signed in: the navigation offers Sign out"
    );
    b.shot("25-last-factor-kept").await;
    b.close().await;
}

/// Clicks the button `class` in the Manage Users row of `login`, answering the step-up form if
/// the action asks for a fresh second factor.
async fn user_action(b: &Browser, server: &Server, login: &str, class: &str, key: &str) {
    b.goto("/users").await;
    b.follow(&format!("tr[data-login='{login}'] .{class}"))
        .await;
    b.find("h1").await;
    if b.has("#step-up").await {
        b.fill("#step-password", OWNER_PW).await;
        server.next_code_window();
        b.fill("#step-code", &server.totp(key)).await;
        b.follow("#step-up").await;
        b.find("#users").await;
        b.follow(&format!("tr[data-login='{login}'] .{class}"))
            .await;
    }
    b.find("#users").await;
}

/// (g) A backup person: the owner makes the User a backup Admin, who then reaches Manage
/// Users; an admin's MFA reset: the member's factors go, a notice reaches the outbox, and the
/// next sign-in asks for the Company Account Verification again.
async fn backup_and_reset(driver: &Driver, server: &Server, owner_key: &str, uma: &Member) {
    let owner = Browser::open(driver, &server.base).await;
    sign_in(&owner, server, OWNER, OWNER_PW, Some(owner_key)).await;
    user_action(&owner, server, &uma.login, "make-backup", owner_key).await;
    assert!(owner.text("#users").await.contains("(backup Admin)"));
    owner.shot("17-backup-person").await;

    let b = member_browser(driver, server, uma).await;
    b.follow("#nav-users").await;
    assert!(b.text("#users").await.contains(OWNER));
    b.close().await;

    user_action(&owner, server, &uma.login, "reset-mfa", owner_key).await;
    let mail = owner.outbox().await;
    assert!(
        mail.iter()
            .any(|m| m.contains(&format!("E-mail to {}", uma.login))
                && m.contains("removed your second factors")),
        "{mail:?}"
    );
    owner.close().await;

    let b = Browser::open(driver, &server.base).await;
    b.goto("/login").await;
    b.fill("#login", &uma.login).await;
    b.fill("#password", &uma.password).await;
    b.submit("#sign-in", "#verify-identity").await;
    assert_eq!(b.path().await, "/login/verification");
    b.close().await;
}

/// A member's login, password, authenticator key and recovery codes.
pub struct Member {
    pub login: String,
    pub password: String,
    pub key: String,
    pub recovery: Vec<String>,
}

/// (d) Manage Users → Add User with a role: the temporary password, the setup e-mail in the
/// outbox; (c) the member's first login: the forced password change, then "Company Account
/// Verification" → Verify identity → the enrolment and the acknowledgement.
async fn add_user_and_first_login(
    driver: &Driver,
    server: &Server,
    owner: &Browser,
    login: &str,
    role: &str,
) -> Member {
    owner.goto("/users").await;
    owner.fill("#new-login", login).await;
    owner
        .find(&format!("#new-role option[value={role}]"))
        .await
        .click()
        .await
        .expect("the role is chosen");
    owner.submit("#add-user", "#temporary-password").await;
    let temporary = owner.text("#temporary-password").await;
    let users = owner.text("#users").await;
    assert!(users.contains(&format!("{login} {role}")), "{users}");
    if role == "User" {
        owner.shot("07-add-user").await;
    }
    let mail = owner.outbox().await;
    assert!(
        mail.iter()
            .any(|m| m.contains(&format!("E-mail to {login}")) && m.contains("setting it up")),
        "the setup e-mail is in the outbox: {mail:?}"
    );
    if role == "User" {
        owner.shot("08-outbox-setup-email").await;
    }

    let b = Browser::open(driver, &server.base).await;
    b.goto("/login").await;
    b.fill("#login", login).await;
    b.fill("#password", &temporary).await;
    b.submit("#sign-in", "#save-password").await;
    assert_eq!(b.path().await, "/login/password");
    if role == "User" {
        b.shot("09-forced-password-change").await;
    }
    let password = format!("{} picked quiet river stones 81", &role.to_lowercase());
    b.fill("#password", &password).await;
    b.submit("#save-password", "#verify-identity").await;
    assert_eq!(b.path().await, "/login/verification");
    if role == "User" {
        b.shot("10-company-account-verification").await;
    }
    b.submit("#verify-identity", "#manual-key").await;
    let key = b.text("#manual-key").await;
    b.client.refresh().await.expect("a reload");
    assert_eq!(
        b.text("#manual-key").await,
        key,
        "the same secret after a reload"
    );
    server.next_code_window();
    b.fill("#code", &server.totp(&key)).await;
    b.submit("#continue", "#recovery-codes").await;
    let mut recovery = Vec::new();
    for code in b
        .client
        .find_all(fantoccini::Locator::Css(".recovery-code"))
        .await
        .expect("the codes")
    {
        recovery.push(code.text().await.expect("a code"));
    }
    assert!(recovery.len() >= 5);
    b.click("#recorded").await;
    b.submit("#acknowledge", "#mfa-section").await;
    assert_eq!(b.path().await, "/account");
    assert_eq!(b.text("#account-role").await, role);
    assert_eq!(b.text("#mfa-status").await, "Active");
    b.close().await;
    Member {
        login: login.to_owned(),
        password,
        key,
        recovery,
    }
}

/// Signs `member` in in a new browser.
async fn member_browser(driver: &Driver, server: &Server, member: &Member) -> Browser {
    let b = Browser::open(driver, &server.base).await;
    sign_in(
        &b,
        server,
        &member.login,
        &member.password,
        Some(&member.key),
    )
    .await;
    b
}

/// Opens `path` and asserts it is refused with the 403 page.
async fn refused(b: &Browser, path: &str) {
    b.goto(path).await;
    assert_eq!(b.text("#error-title").await, "Not allowed", "{path}");
    assert!(b.text("main").await.contains("Error 403"), "{path}");
}

/// (e) A User sees their own jobs; a Manager every job and the reports; an Admin the users and
/// billing too. The pages refuse (403), not only the navigation hides.
async fn roles(driver: &Driver, server: &Server, uma: &Member, max: &Member, ada: &Member) {
    let b = member_browser(driver, server, uma).await;
    assert!(!b.has("#nav-reports").await && !b.has("#nav-users").await);
    b.follow("#nav-jobs").await;
    assert_eq!(b.text("#jobs-scope").await, "Your own jobs.");
    let jobs = b
        .client
        .find_all(fantoccini::Locator::Css(".job"))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 2);
    for job in jobs {
        assert!(job.text().await.unwrap().contains(&uma.login));
    }
    b.shot("11-user-jobs").await;
    refused(&b, "/reports").await;
    b.shot("12-user-refused-reports").await;
    refused(&b, "/users").await;
    refused(&b, "/billing").await;
    b.close().await;

    let b = member_browser(driver, server, max).await;
    b.follow("#nav-jobs").await;
    assert_eq!(b.text("#jobs-scope").await, "Every job of the company.");
    let jobs = b
        .client
        .find_all(fantoccini::Locator::Css(".job"))
        .await
        .unwrap();
    assert!(jobs.len() >= 6, "every member's jobs");
    b.follow("#nav-reports").await;
    assert_eq!(b.text("#reports-title").await, "Reports");
    refused(&b, "/users").await;
    refused(&b, "/billing").await;
    b.close().await;

    let b = member_browser(driver, server, ada).await;
    b.follow("#nav-users").await;
    assert!(b.text("#users").await.contains(&uma.login));
    b.follow("#nav-billing").await;
    assert_eq!(b.text("#billing-title").await, "Billing settings");
    refused(&b, "/company").await;
    b.close().await;
}

/// The newest SMS code in the outbox.
async fn last_sms_code(b: &Browser) -> String {
    let mail = b.outbox().await;
    let sms = mail
        .iter()
        .find(|m| m.starts_with("SMS"))
        .expect("an SMS in the outbox");
    sms.split_whitespace().last().expect("the code").to_owned()
}

/// (f) My Profile → Two-Factor Authentication: a phone number with its country code, proven by
/// an SMS code from the outbox; signing in with an SMS code, with a recovery code; wrong codes
/// throttled with "try again in 30 s".
async fn phone_recovery_and_throttle(driver: &Driver, server: &Server, uma: &Member) {
    let b = member_browser(driver, server, uma).await;
    b.follow("#nav-profile").await;
    assert_eq!(b.text("#phone").await, "none");
    b.fill("#phone-number", "+44 7700 900123").await;
    b.shot("13-profile-two-factor").await;
    b.submit("#send-phone-code", "#confirm-phone").await;
    let code = last_sms_code(&b).await;
    b.goto("/profile/phone/confirm").await;
    b.fill("#code", &code).await;
    b.submit("#confirm-phone", "#saved").await;
    assert_eq!(b.text("#phone").await, "+447700900123");

    // Sign in with a code by text message.
    b.submit("#sign-out", "#sign-in").await;
    b.fill("#login", &uma.login).await;
    b.fill("#password", &uma.password).await;
    b.submit("#sign-in", "#send-sms").await;
    b.submit("#send-sms", "#code").await;
    assert_eq!(b.path().await, "/login/sms");
    let code = last_sms_code(&b).await;
    assert!(b.outbox().await[0].contains("sign-in code"));
    b.shot("14-outbox-sms").await;
    b.goto("/login/sms").await;
    b.fill("#code", &code).await;
    b.submit("#verify", "#mfa-section").await;

    // Sign in with a recovery code.
    b.submit("#sign-out", "#sign-in").await;
    b.fill("#login", &uma.login).await;
    b.fill("#password", &uma.password).await;
    b.submit("#sign-in", "#use-recovery").await;
    b.submit("#use-recovery", "#code").await;
    b.fill("#code", &uma.recovery[0]).await;
    b.submit("#verify", "#mfa-section").await;
    assert_eq!(b.path().await, "/account");

    // Wrong codes: a few are answered as wrong, then the factor waits.
    b.submit("#sign-out", "#sign-in").await;
    b.fill("#login", &uma.login).await;
    b.fill("#password", &uma.password).await;
    b.submit("#sign-in", "#code").await;
    let mut throttled = None;
    for _ in 0..10 {
        b.goto("/login/verify").await;
        b.fill("#code", "000000").await;
        b.follow("#verify").await;
        let title = b.text("#error-title").await;
        if title == "Too many attempts" {
            throttled = Some(b.text("#retry-after").await);
            break;
        }
        assert_eq!(title, "That did not match");
        assert!(
            !b.has("#sign-out").await,
            "a login under way is not signed in"
        );
    }
    let seconds: u64 = throttled
        .expect("wrong codes are throttled")
        .parse()
        .expect("seconds");
    assert!((1..=30).contains(&seconds), "try again in {seconds} s");
    assert!(
        b.text("#error-message")
            .await
            .contains(&format!("Try again in {seconds} s."))
    );
    b.shot("15-throttled").await;
    // Even the right code waits until then (the clock has not moved).
    b.goto("/login/verify").await;
    b.fill("#code", &server.totp(&uma.key)).await;
    b.follow("#verify").await;
    assert_eq!(b.text("#error-title").await, "Too many attempts");
    b.close().await;
    server.clock.advance(3_600);
}

/// (g) Where you're signed in: two browsers listed; "sign out everywhere" ends both.
async fn sessions(driver: &Driver, server: &Server, max: &Member) {
    let first = member_browser(driver, server, max).await;
    let second = member_browser(driver, server, max).await;
    second.goto("/sessions").await;
    first.goto("/profile").await;
    first.submit("#where-signed-in", "#sessions").await;
    let rows = first
        .client
        .find_all(fantoccini::Locator::Css(".session"))
        .await
        .unwrap();
    // Both browsers, and the sessions of earlier stories' browsers that were closed unsigned-out.
    assert!(rows.len() >= 2, "both browsers are listed");
    assert!(first.text("#sessions").await.contains("(this browser)"));
    first.shot("16-where-signed-in").await;
    first.submit("#sign-out-everywhere", "#sign-in").await;
    second.goto("/account").await;
    second.find("#sign-in").await;
    assert_eq!(
        second.path().await,
        "/login",
        "the other browser is signed out too"
    );
    first.close().await;
    second.close().await;
}

/// Signs in with the password and, when asked, a code from the app holding `key`.
pub async fn sign_in(b: &Browser, server: &Server, login: &str, password: &str, key: Option<&str>) {
    b.goto("/login").await;
    b.fill("#login", login).await;
    b.fill("#password", password).await;
    b.follow("#sign-in").await;
    if let Some(key) = key {
        b.find("#code").await;
        assert_eq!(b.path().await, "/login/verify");
        server.next_code_window();
        b.fill("#code", &server.totp(key)).await;
        b.follow("#verify").await;
    }
    b.find("#who").await;
}

/// (a) Sign up, sign out and in; Account info → Multi-Factor Authentication → Activate (a
/// while after signing in: the password again first): the QR code and manual key (the same after a reload, a new one only after "Start over"), the
/// code, the recovery codes and "I have safely recorded this number". Returns the owner's key.
async fn sign_up_and_turn_on_mfa(driver: &Driver, server: &Server) -> String {
    let b = Browser::open(driver, &server.base).await;
    b.goto("/").await;
    b.shot("01-home").await;
    b.follow("#start-signup").await;
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
    b.follow("#sign-in").await;
    assert_eq!(b.text("#error-title").await, "That did not match");
    sign_in(&b, server, OWNER, OWNER_PW, None).await;

    // Signed in a while ago: turning MFA on asks for the password again first (alone: there
    // is no second factor yet).
    server.clock.advance(600);
    b.goto("/account").await;
    b.follow("#mfa-activate").await;
    assert_eq!(b.text("#error-title").await, "Confirm it is you");
    assert!(!b.has("#step-code").await, "no code to ask for yet");
    assert_eq!(
        b.text("#error-message").await,
        "This needs a fresh check: enter your password."
    );
    b.fill("#step-password", OWNER_PW).await;

    // Activate: the QR code and the manual key.
    b.submit("#step-up", "#manual-key").await;
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
    b.follow("#continue").await;
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
    b.follow("#nav-company").await;
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
