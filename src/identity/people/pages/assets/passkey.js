// Passkey ceremonies for the sign-in pages: progressive enhancement, served as a file so the page
// CSP needs no 'unsafe-inline'. Without JavaScript (or WebAuthn) the passkey forms stay hidden and
// the code form works as it is. Each form carries its options (JSON) in data-webauthn-options; the
// credential is serialised as the WebAuthn JSON (RegistrationResponseJSON /
// AuthenticationResponseJSON) into the hidden "response" field and the form is submitted.
(() => {
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  const toBytes = (b64url) => {
    const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  };
  const toB64url = (buf) => {
    const bytes = new Uint8Array(buf);
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };

  const creationOptions = (o) => ({
    ...o,
    challenge: toBytes(o.challenge),
    user: { ...o.user, id: toBytes(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: toBytes(c.id) })),
  });
  const requestOptions = (o) => ({
    ...o,
    challenge: toBytes(o.challenge),
    allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: toBytes(c.id) })),
  });

  const registrationJson = (cred) => ({
    id: cred.id,
    rawId: toB64url(cred.rawId),
    type: cred.type,
    clientExtensionResults: cred.getClientExtensionResults(),
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
    response: {
      clientDataJSON: toB64url(cred.response.clientDataJSON),
      attestationObject: toB64url(cred.response.attestationObject),
      transports: cred.response.getTransports ? cred.response.getTransports() : [],
    },
  });
  const authenticationJson = (cred) => ({
    id: cred.id,
    rawId: toB64url(cred.rawId),
    type: cred.type,
    clientExtensionResults: cred.getClientExtensionResults(),
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
    response: {
      clientDataJSON: toB64url(cred.response.clientDataJSON),
      authenticatorData: toB64url(cred.response.authenticatorData),
      signature: toB64url(cred.response.signature),
      userHandle: cred.response.userHandle ? toB64url(cred.response.userHandle) : undefined,
    },
  });

  for (const form of document.querySelectorAll('form[data-webauthn]')) {
    form.hidden = false;
    form.addEventListener('submit', async (event) => {
      if (form.dataset.ready === '1') return;
      event.preventDefault();
      const mode = form.dataset.webauthn;
      const options = JSON.parse(form.dataset.webauthnOptions || '{}');
      const status = form.querySelector('[data-webauthn-status]');
      try {
        const json =
          mode === 'create'
            ? registrationJson(await navigator.credentials.create({ publicKey: creationOptions(options) }))
            : authenticationJson(await navigator.credentials.get({ publicKey: requestOptions(options) }));
        form.querySelector('input[name="response"]').value = JSON.stringify(json);
        form.dataset.ready = '1';
        form.submit();
      } catch {
        if (status) status.textContent = form.dataset.webauthnError || 'The passkey was not used.';
      }
    });
  }
})();
