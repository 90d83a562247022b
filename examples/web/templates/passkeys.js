// The only script of the example: passkeys are a browser API (WebAuthn), so their pages need a
// few lines of it. The server's options and the browser's answer carry binary fields, which
// travel as base64url text; the answer goes back in a hidden field of an ordinary form post
// (with its CSRF token), so the server answers with a page, as for every other form.
//
// A button with data-passkey="create" holds the creation options (data-options); one with
// data-passkey="get" fetches the request options from data-start (a POST, with the CSRF token
// in the x-csrf-token header when data-csrf is set). Either fills the form's "response" field
// and submits the form.
(function () {
  "use strict";

  function bytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    b64 += "===".slice((b64.length + 3) % 4);
    return Uint8Array.from(atob(b64), function (c) { return c.charCodeAt(0); });
  }

  function base64url(buffer) {
    var s = "";
    new Uint8Array(buffer).forEach(function (b) { s += String.fromCharCode(b); });
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(json) {
    var o = json.publicKey;
    o.challenge = bytes(o.challenge);
    o.user.id = bytes(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = bytes(c.id); });
    return { publicKey: o };
  }

  function requestOptions(json) {
    var o = json.publicKey;
    o.challenge = bytes(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = bytes(c.id); });
    // A button press, not autofill: the browser's own dialog (no conditional mediation).
    return { publicKey: o };
  }

  function created(c) {
    return {
      id: c.id,
      rawId: base64url(c.rawId),
      type: c.type,
      response: {
        clientDataJSON: base64url(c.response.clientDataJSON),
        attestationObject: base64url(c.response.attestationObject)
      },
      extensions: c.getClientExtensionResults()
    };
  }

  function asserted(c) {
    var r = c.response;
    return {
      id: c.id,
      rawId: base64url(c.rawId),
      type: c.type,
      response: {
        clientDataJSON: base64url(r.clientDataJSON),
        authenticatorData: base64url(r.authenticatorData),
        signature: base64url(r.signature),
        userHandle: r.userHandle ? base64url(r.userHandle) : null
      },
      extensions: c.getClientExtensionResults()
    };
  }

  function requestOptionsFrom(button) {
    var headers = { "content-type": "application/json" };
    if (button.dataset.csrf) { headers["x-csrf-token"] = button.dataset.csrf; }
    return fetch(button.dataset.start, {
      method: "POST",
      headers: headers,
      body: "{}",
      credentials: "same-origin"
    }).then(function (answer) {
      if (!answer.ok) { throw new Error("unavailable"); }
      return answer.json();
    });
  }

  function run(button) {
    var form = button.form;
    var shown = form.querySelector("[data-passkey-error]");
    if (shown) { shown.hidden = true; }
    if (!window.PublicKeyCredential) {
      return Promise.reject(new Error("unsupported"));
    }
    if (button.dataset.passkey === "create") {
      var options = creationOptions(JSON.parse(button.dataset.options));
      return navigator.credentials.create(options).then(created);
    }
    return requestOptionsFrom(button).then(function (json) {
      return navigator.credentials.get(requestOptions(json));
    }).then(asserted);
  }

  document.querySelectorAll("button[data-passkey]").forEach(function (button) {
    button.addEventListener("click", function () {
      button.disabled = true;
      run(button).then(function (answer) {
        button.form.elements.response.value = JSON.stringify(answer);
        button.form.submit();
      }).catch(function (e) {
        button.disabled = false;
        var shown = button.form.querySelector("[data-passkey-error]");
        if (shown) {
          var name = e && e.name;
          shown.textContent = name === "NotAllowedError"
            ? "The passkey was not used (cancelled or timed out). Try again."
            : name === "InvalidStateError"
              ? "This device already holds a passkey for your account."
              : "Passkeys are not available here right now.";
          shown.dataset.cause = (e && e.name ? e.name + ": " : "") + (e && e.message ? e.message : String(e));
          shown.hidden = false;
        }
      });
    });
  });
})();
