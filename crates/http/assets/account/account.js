// Self-service account page: sign in (with a second step for two-step verification, or with a
// passkey alone), profile, password, PIN, two-step verification, passkeys and recovery codes,
// sessions, personal API tokens, everything that can sign in as the user, the security timeline
// (with "this wasn't me" on each event), the data export, sign out; and the two restricted states
// a session can be in: enrolling a second factor, or changing the password after a report; and,
// signed out, a forgotten password (a link asked for by e-mail, then a new password from the link);
// and a verified change of the e-mail address (the pending one under the field, the link from the
// e-mail confirming it, signed in or not).
// Plain JavaScript, no framework. Strict CSP: no inline code, no innerHTML with server data.
'use strict';

(() => {
  const API = {
    login: '/api/v1/login/',
    logout: '/api/v1/logout/',
    profile: '/api/v1/session/profile/',
    passwordPolicy: '/api/v1/session/password_policy/',
    pinPolicy: '/api/v1/session/pincode_policy/',
    sessions: '/api/v1/session/sessions/',
    changePassword: '/api/portal/v1.3/currentuser/changepassword',
    userLoginInfo: '/api/v1/session/user_login_info/',
    factors: '/api/v1/session/second_factors/',
    totp: '/api/v1/session/second_factors/totp/',
    recoveryCodes: '/api/v1/session/second_factors/recovery_codes/',
    reauthenticate: '/api/v1/session/reauthenticate/',
    reauthOptions: '/api/v1/session/reauthenticate/options/',
    passkeys: '/api/v1/session/second_factors/passkeys/',
    passkeyOptions: '/api/v1/session/second_factors/passkeys/options/',
    passkeySignIn: '/api/v1/login/passkey/',
    passkeySignInOptions: '/api/v1/login/passkey/options/',
    tokens: '/api/v1/session/tokens/',
    credentials: '/api/v1/session/credentials/',
    events: '/api/v1/session/events/',
    exportData: '/api/v1/session/export/',
    passwordReset: '/api/v1/password_reset/',
    passwordResetConfirm: '/api/v1/password_reset/confirm/',
    emailChange: '/api/v1/session/email_change/',
    emailChangeConfirm: '/api/v1/email_change/confirm/',
  };
  // problem+json `type`s the page tells apart.
  const PROBLEM = {
    secondFactor: 'urn:accountd:problem:second-factor-required',
    reauth: 'urn:accountd:problem:reauthentication-required',
    enrollment: 'urn:accountd:problem:second-factor-enrollment-required',
    passwordChange: 'urn:accountd:problem:password-change-required',
    wrongSecret: 'urn:accountd:problem:wrong-secret',
    passkeyRefused: 'urn:accountd:problem:passkey-refused',
    forbidden: 'urn:accountd:problem:forbidden',
    resetLinkInvalid: 'urn:accountd:problem:reset-link-invalid',
    resetUnavailable: 'urn:accountd:problem:password-reset-unavailable',
    emailLinkInvalid: 'urn:accountd:problem:email-change-link-invalid',
  };
  const isProblem = (r, type) => !!r.data && r.data.type === type;
  // An unknown, used, replaced, cancelled or expired e-mail confirmation link (by the end of its
  // type, whatever the prefix).
  const isEmailLinkInvalid = (r) => !!r.data && typeof r.data.type === 'string'
    && (r.data.type === PROBLEM.emailLinkInvalid || r.data.type.endsWith('email-change-link-invalid'));
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const PROFILE_FIELDS = ['firstName', 'lastName', 'emailAddress', 'phoneNumber', 'mobile', 'language', 'timeZone'];
  const LANG_KEY = 'accountd.lang';
  const EVENTS_PAGE = 20; // events per page of the timeline
  const EXPORT_FILE = 'accountd-export.json';
  // How long a password-reset link lasts: notifications.reset_link_minutes by default (the 202
  // answer does not say).
  const RESET_LINK_MINUTES = 30;
  const $ = (id) => document.getElementById(id);

  // createElement with properties (className, textContent, dataset…) and children: never innerHTML.
  function h(tag, props = {}, ...children) {
    const el = document.createElement(tag);
    const { dataset, ...rest } = props;
    Object.assign(el, rest);
    Object.assign(el.dataset, dataset || {});
    el.append(...children);
    return el;
  }

  const state = {
    lang: 'en',
    profileLang: null, // from the last profile seen: kept when the session ends
    profile: null,
    pwPolicy: null, // {rules, checks}
    pinPolicy: null, // {applies, resource, hasPin, rules, checks}
    sessions: [],
    factors: null, // {totp, totp_enabled_at, recovery_codes_left, passkeys, enrollment_required}
    passkeys: [], // [{id, name, created_at, last_used_at, backup_eligible, backup_state}]
    enrollOnly: false, // the session may only enroll a second factor until it does
    passwordOnly: false, // the session may only change the password ("this wasn't me") until it does
    // The login's second step: {challenge, methods, expiresAt, passkeyOptions, canPasskey,
    // primary, mode}; mode is 'totp', 'passkey' or 'recovery', primary the mode it starts in.
    signinStep: null,
    // A change waiting for the user to prove it is them: {retry, back, hasFactor, hasTotp,
    // hasPasskey, primary, mode}; mode is 'password', 'totp', 'passkey' or 'recovery'.
    reauth: null,
    codesBack: null, // the id of what gets the focus once new recovery codes are put away
    tokens: [], // [{id, name, scope, personal, createdAt, lastUsedAt, expiresAt, expired}], newest first
    // Everything that can sign in as the user: [{kind, id, name, createdAt, lastUsedAt, expiresAt,
    // current, scope, address, remaining, revoke: {method, path} | null}]
    credentials: [],
    // The security timeline: the pages loaded so far, newest first ([{id, at, action, outcome,
    // fields, address, userAgent, by, requestId}]), the cursor of the next older page (null on the
    // last), whether a page came at all, and the event whose "this wasn't me" awaits confirmation.
    events: [],
    eventsNext: null,
    eventsLoaded: false,
    reporting: null,
    signinNotice: null, // {key, params}: what happened to the session that ended, on the sign-in form
    // A password reset link's token (from `#reset=<token>`, removed from the address at once): kept
    // here only, until the new password is set or the link is refused.
    resetToken: null,
    resetFrom: null, // the body's data-state before the reset views, for "Back to sign in"
    // A verified change of the e-mail address: {verifyChanges, pending: {emailAddress, requestedAt,
    // expiresAt} | null} from GET email_change (null until loaded, or when the server has none).
    emailChange: null,
    // What the link confirming a new address (`#verify_email=<token>`) came to: {kind: 'busy' | 'ok'
    // | 'bad', key, params, detail (the server's words), response (to describe)}; null when none.
    // The token itself is kept nowhere but in the request.
    emailVerify: null,
  };

  // ---------------------------------------------------------------- translations

  const I18N = {
    en: {
      title: 'Your account', langSwitch: 'Display language', langAuto: 'Automatic', loading: 'Loading…',
      signinTitle: 'Sign in', username: 'Username', password: 'Password', signinSubmit: 'Sign in',
      signedInAs: 'Signed in as', signout: 'Sign out',
      profileTitle: 'Profile', firstName: 'First name', lastName: 'Last name', emailAddress: 'Email address',
      phoneNumber: 'Phone number', mobile: 'Mobile', language: 'Language', timeZone: 'Time zone',
      readonlyHint: 'Managed by your administrator.', save: 'Save',
      passwordTitle: 'Change password', passwordOld: 'Current password', passwordNew: 'New password',
      rulesTitle: 'Requirements:', passwordConfirm: 'Confirm new password', passwordSubmit: 'Change password',
      pinTitle: 'Change PIN', pinOld: 'Current PIN', pinNew: 'New PIN', pinRulesTitle: 'Requirements:',
      pinSubmit: 'Change PIN', sessionsTitle: 'Where you are signed in', endOthers: 'Sign out all other sessions',
      // Two-step verification.
      factorIntroTotp: 'Enter the 6-digit code from your authenticator app.',
      factorIntroRecovery: 'Enter one of your recovery codes. Each code works only once.',
      factorCode: 'Verification code', recoveryCode: 'Recovery code', factorSubmit: 'Verify', startOver: 'Start over',
      useRecovery: 'Use a recovery code instead', useApp: 'Use a code from the app instead',
      factorMissing: 'Enter the code.', factorWrong: 'Wrong code, or a code already used. Try again, or start over.',
      challengeExpired: 'That took too long. Please sign in again.',
      factorsTitle: 'Two-step verification',
      factorsIntro: 'Besides your password, signing in asks for a code from an authenticator app on your phone.',
      enrollRequired: 'Your administrator requires two-step verification for this account. Set it up to continue.',
      totpStateNone: 'Status: off.', totpStatePending: 'Status: set-up not finished.', totpStateEnabled: 'Status: on since {date}.',
      totpSetup: 'Set up', totpRemove: 'Turn off', cancel: 'Cancel',
      totpScan: 'Scan this QR code with your authenticator app (such as FreeOTP, Google or Microsoft Authenticator), or type the key below into it. Then enter the code the app shows.',
      qrLabel: 'QR code to scan with your authenticator app', totpKey: 'Key:', totpCode: 'Code from the app',
      totpConfirm: 'Turn on', codeFormat: 'Enter the 6 digits the app shows.',
      wrongCode: 'The code is wrong or was already used. Wait for the next one and try again.',
      wrongRecoveryCode: 'This recovery code is wrong or was already used.',
      totpOn: 'Two-step verification is on.', totpOff: 'Two-step verification is off. Your recovery codes no longer work.',
      recoveryTitle: 'Recovery codes',
      recoveryIntro: 'If you lose your phone or your passkeys, sign in with a recovery code instead. Each code works once.',
      codesLeft: (p) => (p.n === 0 ? 'You have no unused recovery codes: generate a set.'
        : `${p.n} unused ${p.n === 1 ? 'code' : 'codes'} left.`),
      codesGenerate: 'Generate new codes', codesTitle: 'Your recovery codes',
      codesSave: 'Save these codes somewhere safe now (in a password manager, or on paper). They will not be shown again. Each works once, and any older codes no longer work.',
      codesDone: 'I have saved them', codesNew: 'New recovery codes were made: save them.',
      reauthTitle: 'Confirm it is you', reauthIntro: 'This change needs you to prove again that it is you.',
      reauthSubmit: 'Continue',
      // Passkeys.
      passkeysTitle: 'Passkeys',
      passkeysIntro: "A passkey signs you in with your device's screen lock (fingerprint, face or PIN) instead of your password. After your password, it also serves as the second step.",
      passkeysNone: 'You have no passkeys yet.',
      passkeysUnsupported: 'This browser cannot create passkeys. Use a recent browser to add one.',
      passkeyName: 'Passkey name', passkeyNameHint: 'For example "Laptop" or "Phone": to tell your passkeys apart.',
      passkeyAdd: 'Add a passkey', passkeyCreated: 'Added', passkeyLastUsed: 'Last used', passkeyNeverUsed: 'Never used',
      passkeyRemove: 'Remove', passkeyRemoveLabel: 'Remove the passkey {name}',
      passkeyAdded: 'The passkey "{name}" was added.', passkeyRemoved: 'The passkey "{name}" was removed.',
      passkeyGone: 'That passkey had already been removed.',
      signinOr: 'or', passkeySignIn: 'Sign in with a passkey', usePasskey: 'Use a passkey',
      usePasskeyInstead: 'Use a passkey instead', factorIntroPasskey: 'Confirm it is you with one of your passkeys.',
      passkeyCancelled: 'No passkey was used: the request was cancelled or timed out.',
      passkeyExists: 'This device already holds a passkey for your account.',
      passkeyFailed: 'The passkey could not be used ({name}).',
      passkeyUnsupported: 'This browser cannot use passkeys.',
      passkeyRefused: 'This passkey was not accepted. It may have been removed from your account.',
      passkeyStepRefused: 'This passkey was not accepted. Try again, or start over.',
      passkeyRejected: 'The server did not accept this passkey. Try again.',
      wrongPasskey: 'This passkey was not accepted. Try again.',
      // Personal API tokens.
      tokensTitle: 'API tokens',
      tokensIntro: 'A personal API token lets a script or another program use the API as you, without your password: it sends the token in an "Authorization: Bearer" header. A read-only token can look but not change anything. Revoke a token as soon as you no longer need it.',
      tokensNone: 'You have no API tokens.',
      tokenName: 'Token name', tokenNameHint: 'What it is for, such as "Backup script" or "Dashboard".',
      tokenScope: 'Access', scopeRead: 'Read only', scopeFull: 'Full access',
      tokenDays: 'Expires after', days7: '7 days', days30: '30 days', days90: '90 days',
      tokenCreate: 'Create a token', tokenSecret: 'Your new token',
      tokenSave: 'Copy this token now and keep it somewhere safe (in a password manager, for instance). It will not be shown again.',
      tokenCopy: 'Copy', tokenDone: 'I have copied it', tokenCopied: 'Copied.',
      tokenCopyFailed: 'The browser could not copy it: the token is selected, copy it yourself.',
      tokenCreatedAt: 'Created', tokenLastUsed: 'Last used', tokenNeverUsed: 'Never used', tokenExpires: 'Expires',
      tokenNoExpiry: 'Never', tokenExpiredOn: 'Expired on {date}', tokenExpiredBadge: 'Expired',
      tokenByAdmin: 'Created by an administrator',
      tokenRevoke: 'Revoke', tokenRevokeLabel: 'Revoke the token {name}',
      tokenCreated: 'The token "{name}" was created.', tokenRevoked: 'The token "{name}" was revoked: it no longer works.',
      tokenGone: 'That token had already been revoked.', tokensForbidden: 'Your account may not create API tokens.',
      // Everything that can sign in as the user.
      credentialsTitle: 'Everything that can sign in as you',
      credentialsIntro: 'Your password and PIN, where you are signed in, your API tokens and second factors, with when each was last used. Revoke what you do not recognise.',
      credPassword: 'Password', credPin: 'PIN', credSession: 'Session', credToken: 'API token',
      credTotp: 'Authenticator app', credPasskey: 'Passkey', credRecovery: 'Recovery codes',
      credTitle: '{kind}: {detail}', credSessionFrom: '{browser} from {address}', credTokenDetail: '{name} ({scope})',
      credCodesLeft: (p) => `${p.n} left`,
      credChanged: 'Changed', credSetUp: 'Set up', credAdded: 'Added', credLastUsed: 'Last used', credNever: 'Never',
      credExpires: 'Expires',
      credRevoke: 'Revoke', credRevokeLabel: 'Revoke {what}', credRevoked: 'Revoked: {what}.',
      credGone: 'It had already been revoked.',
      revokeEverything: 'Sign out everywhere else and revoke every token',
      revokeEverythingQuestion: 'This signs out all your other sessions and revokes every API token: scripts and programs that use them stop working. Your password, PIN and second factors stay. Are you sure?',
      revokeEverythingConfirm: 'Yes, sign out and revoke',
      revokedEverything: (p) => `Ended ${p.s} ${p.s === 1 ? 'session' : 'sessions'} and revoked ${p.m} ${p.m === 1 ? 'token' : 'tokens'}.`,
      // The security timeline, "this wasn't me", the data export, the demanded password change.
      timelineTitle: 'Security timeline',
      timelineIntro: 'Sign-ins, refused attempts and changes to your account, newest first, with the address and browser they came from. If one was not you, press "This wasn\'t me" on it.',
      timelineNone: 'Nothing to show yet.', timelineMore: 'Load older events',
      eventWhen: 'When', eventOutcome: 'Result', eventFields: 'Details', eventBy: 'By',
      eventByLevel: '{name} (level {level})',
      outcomes: { success: 'Succeeded', denied: 'Refused', failed: 'Failed' },
      actions: {
        login: 'Sign-in', logout: 'Sign-out', user_create: 'Account created', profile_update: 'Profile changed',
        account_update: 'Account changed', password_change: 'Password changed', pin_change: 'PIN changed',
        user_delete: 'Account deleted', session_revoke: 'Session ended', token_create: 'API token created',
        token_revoke: 'API token revoked', factor_enroll: 'Second factor set up', factor_remove: 'Second factor removed',
        factor_reset: 'Second factors reset', reauthenticate: 'Identity confirmed again',
        recovery_codes_regenerate: 'New recovery codes', data_export: 'Data downloaded',
        account_throttled: 'Sign-ins slowed down after refused attempts', account_read: 'Account read by an administrator',
        compromise_report: "Reported: this wasn't me", password_reset_request: 'Password reset link sent',
        email_change_request: 'E-mail address change asked',
      },
      reportButton: "This wasn't me", reportLabel: "This wasn't me: {action}, {when}",
      reportQuestion: 'This ends every session, this one included, and revokes every API token: scripts and programs that use them stop working. You will have to change your password at your next sign-in. Are you sure?',
      reportConfirm: 'Yes, end everything',
      reportDone: (p) => `Reported. Ended ${p.s} ${p.s === 1 ? 'session' : 'sessions'} (this one too) and revoked ${p.m} API ${p.m === 1 ? 'token' : 'tokens'}.`
        + (p.pw ? ' When you sign in again, you will have to change your password first.' : ''),
      passwordRequired: 'Someone may have used your account: change your password to continue.',
      exportTitle: 'Your data',
      exportIntro: 'Download everything this service holds about you as one JSON file: your profile, your sessions, API tokens and second factors (never a secret), and your security timeline.',
      exportDownload: 'Download my data', exportDone: 'Your data was downloaded ({file}).',
      // A forgotten password: a link by e-mail, then a new password from the link.
      forgotPassword: 'Forgot your password?', resetRequestTitle: 'Forgotten password',
      resetRequestIntro: "Enter your username or e-mail address: we will send a link to choose a new password to your account's e-mail address.",
      resetLogin: 'Username or e-mail address', resetSend: 'Send me a link', resetBack: 'Back to sign in',
      resetSent: (p) => `If an account matches, we sent a link to its e-mail address. It is valid for ${p.minutes} ${p.minutes === 1 ? 'minute' : 'minutes'}.`,
      resetUnavailable: 'The password of this account cannot be reset here.',
      resetConfirmTitle: 'Choose a new password',
      resetConfirmIntro: 'Choose the new password of your account. Every session of the account will be signed out.',
      resetRepeat: 'Repeat the new password', resetSubmit: 'Save the new password',
      resetDone: 'Your password was changed. Every session was signed out: sign in with your new password.',
      resetInvalid: 'This link is no longer valid: it was already used, or it is too old. Ask for a new link below.',
      // A verified change of the e-mail address: pending under the field, then the link's result.
      emailChangePending: (p) => `Waiting for confirmation: ${p.address} — we sent a link to that address. `
        + (p.current ? `Your address stays ${p.current} until you follow it` : 'It becomes your address when you follow it')
        + ` (link valid until ${p.until}).`,
      emailChangeCancel: 'Cancel this change',
      emailChangeCancelled: (p) => (p.current ? `The change was cancelled: your address stays ${p.current}.`
        : 'The change was cancelled.'),
      emailChangeSaved: 'Saved. Your new e-mail address is waiting for confirmation.',
      emailVerifyTitle: 'Your new e-mail address', emailVerifying: 'Confirming your new e-mail address…',
      emailVerified: 'Your e-mail address is now {address}.', emailVerifiedNoAddress: 'Your new e-mail address is confirmed.',
      emailVerifyInvalid: 'This link is no longer valid: it was already used, replaced by a newer change or cancelled, or it is too old.',
      close: 'Close',
      // Messages built by the script.
      signinMissing: 'Enter your username and password.', badCredentials: 'Wrong username or password.',
      accountDisabled: 'This account cannot sign in.',
      sessionExpired: 'Your session has ended. Please sign in again.',
      throttled: (p) => `Too many attempts. Try again in ${p.s} ${p.s === 1 ? 'second' : 'seconds'}.`,
      throttledSoon: 'Too many attempts. Try again later.',
      network: 'The server cannot be reached. Check your connection and try again.',
      serverError: 'Something went wrong (error {status}). Try again.', saving: 'Saving…', saved: 'Saved',
      fixErrors: 'Please correct the fields marked in red.', notEditable: 'You cannot change this field.',
      required: 'Required.', mismatch: 'The passwords do not match.',
      passwordChanged: 'Your password has been changed. Your other sessions were signed out.',
      wrongPassword: 'The current password is wrong.', notChanged: 'Nothing was changed.',
      pinChanged: 'Your PIN has been changed.', wrongPin: 'The current PIN is wrong.',
      thisSession: 'This session', otherSession: 'Other session',
      created: 'Signed in', lastSeen: 'Last seen', client: 'Browser', address: 'Address',
      unknown: 'Unknown', agentOn: '{browser} on {system}', endSession: 'Sign out', endSessionLabel: 'Sign out the session started {when}',
      sessionEnded: 'The session was signed out.', sessionGone: 'That session had already ended.',
      endedOthers: (p) => (p.n === 0 ? 'There were no other sessions.'
        : `${p.n} other ${p.n === 1 ? 'session was' : 'sessions were'} signed out.`),
      ruleMet: '(met)', ruleNotMet: '(not met)', ruleUnchecked: '',
      rulesSummary: (p) => (p.n === 0 ? 'All checked requirements are met.'
        : `${p.n} ${p.n === 1 ? 'requirement is' : 'requirements are'} not met.`),
      codes: {
        empty: () => 'Must not be empty.',
        too_long: (n) => n && `Must be at most ${n} characters.`,
        too_short: (n) => n && `Must be at least ${n} characters.`,
        control_character: () => 'Must not contain control characters.',
        surrounding_whitespace: () => 'Must not start or end with a space.',
        path_separator: () => 'Must not contain "/" or "\\".',
      },
    },
    fr: {
      title: 'Votre compte', langSwitch: "Langue d'affichage", langAuto: 'Automatique', loading: 'Chargement…',
      signinTitle: 'Connexion', username: "Nom d'utilisateur", password: 'Mot de passe', signinSubmit: 'Se connecter',
      signedInAs: 'Connecté en tant que', signout: 'Se déconnecter',
      profileTitle: 'Profil', firstName: 'Prénom', lastName: 'Nom', emailAddress: 'Adresse e-mail',
      phoneNumber: 'Numéro de téléphone', mobile: 'Mobile', language: 'Langue', timeZone: 'Fuseau horaire',
      readonlyHint: 'Géré par votre administrateur.', save: 'Enregistrer',
      passwordTitle: 'Changer le mot de passe', passwordOld: 'Mot de passe actuel', passwordNew: 'Nouveau mot de passe',
      rulesTitle: 'Exigences :', passwordConfirm: 'Confirmer le nouveau mot de passe',
      passwordSubmit: 'Changer le mot de passe',
      pinTitle: 'Changer le code PIN', pinOld: 'Code PIN actuel', pinNew: 'Nouveau code PIN', pinRulesTitle: 'Exigences :',
      pinSubmit: 'Changer le code PIN',
      sessionsTitle: 'Où vous êtes connecté', endOthers: 'Déconnecter toutes les autres sessions',
      factorIntroTotp: "Saisissez le code à 6 chiffres de votre application d'authentification.",
      factorIntroRecovery: "Saisissez l'un de vos codes de secours. Chaque code ne sert qu'une fois.",
      factorCode: 'Code de vérification', recoveryCode: 'Code de secours', factorSubmit: 'Vérifier',
      startOver: 'Recommencer', useRecovery: 'Utiliser plutôt un code de secours',
      useApp: "Utiliser plutôt un code de l'application",
      factorMissing: 'Saisissez le code.', factorWrong: 'Code incorrect ou déjà utilisé. Réessayez, ou recommencez.',
      challengeExpired: 'Le délai est dépassé. Veuillez vous reconnecter.',
      factorsTitle: 'Validation en deux étapes',
      factorsIntro: "En plus du mot de passe, la connexion demande un code d'une application d'authentification sur votre téléphone.",
      enrollRequired: 'Votre administrateur exige la validation en deux étapes pour ce compte. Activez-la pour continuer.',
      totpStateNone: 'État : désactivée.', totpStatePending: 'État : activation non terminée.',
      totpStateEnabled: 'État : activée depuis le {date}.',
      totpSetup: 'Activer', totpRemove: 'Désactiver', cancel: 'Annuler',
      totpScan: "Scannez ce code QR avec votre application d'authentification (comme FreeOTP, Google ou Microsoft Authenticator), ou saisissez-y la clé ci-dessous. Saisissez ensuite le code qu'elle affiche.",
      qrLabel: "Code QR à scanner avec votre application d'authentification", totpKey: 'Clé :',
      totpCode: "Code de l'application", totpConfirm: 'Activer', codeFormat: "Saisissez les 6 chiffres affichés par l'application.",
      wrongCode: 'Le code est incorrect ou a déjà été utilisé. Attendez le suivant et réessayez.',
      wrongRecoveryCode: 'Ce code de secours est incorrect ou a déjà été utilisé.',
      totpOn: 'La validation en deux étapes est activée.',
      totpOff: 'La validation en deux étapes est désactivée. Vos codes de secours ne fonctionnent plus.',
      recoveryTitle: 'Codes de secours',
      recoveryIntro: "Si vous perdez votre téléphone ou vos clés d'accès, connectez-vous avec un code de secours. Chaque code ne sert qu'une fois.",
      codesLeft: (p) => (p.n === 0 ? "Vous n'avez aucun code de secours inutilisé : générez-en une série."
        : (p.n === 1 ? 'Il vous reste 1 code inutilisé.' : `Il vous reste ${p.n} codes inutilisés.`)),
      codesGenerate: 'Générer de nouveaux codes', codesTitle: 'Vos codes de secours',
      codesSave: "Enregistrez ces codes en lieu sûr dès maintenant (dans un gestionnaire de mots de passe, ou sur papier). Ils ne seront plus affichés. Chacun ne sert qu'une fois, et les anciens codes ne fonctionnent plus.",
      codesDone: 'Je les ai enregistrés', codesNew: 'De nouveaux codes de secours ont été créés : enregistrez-les.',
      reauthTitle: "Confirmez qu'il s'agit bien de vous", reauthIntro: "Cette modification exige de prouver à nouveau qu'il s'agit bien de vous.",
      reauthSubmit: 'Continuer',
      passkeysTitle: "Clés d'accès",
      passkeysIntro: "Une clé d'accès vous connecte avec le verrouillage d'écran de votre appareil (empreinte, visage ou code PIN) au lieu de votre mot de passe. Après votre mot de passe, elle sert aussi de seconde étape.",
      passkeysNone: "Vous n'avez encore aucune clé d'accès.",
      passkeysUnsupported: "Ce navigateur ne peut pas créer de clé d'accès. Utilisez un navigateur récent pour en ajouter une.",
      passkeyName: "Nom de la clé d'accès",
      passkeyNameHint: "Par exemple « Portable » ou « Téléphone » : pour distinguer vos clés d'accès.",
      passkeyAdd: "Ajouter une clé d'accès", passkeyCreated: 'Ajoutée', passkeyLastUsed: 'Dernière utilisation',
      passkeyNeverUsed: 'Jamais utilisée', passkeyRemove: 'Supprimer', passkeyRemoveLabel: "Supprimer la clé d'accès {name}",
      passkeyAdded: "La clé d'accès « {name} » a été ajoutée.", passkeyRemoved: "La clé d'accès « {name} » a été supprimée.",
      passkeyGone: "Cette clé d'accès avait déjà été supprimée.",
      signinOr: 'ou', passkeySignIn: "Se connecter avec une clé d'accès", usePasskey: "Utiliser une clé d'accès",
      usePasskeyInstead: "Utiliser plutôt une clé d'accès",
      factorIntroPasskey: "Confirmez qu'il s'agit bien de vous avec l'une de vos clés d'accès.",
      passkeyCancelled: "Aucune clé d'accès n'a été utilisée : la demande a été annulée ou a expiré.",
      passkeyExists: "Cet appareil contient déjà une clé d'accès pour votre compte.",
      passkeyFailed: "La clé d'accès n'a pas pu être utilisée ({name}).",
      passkeyUnsupported: "Ce navigateur ne peut pas utiliser de clé d'accès.",
      passkeyRefused: "Cette clé d'accès n'a pas été acceptée. Elle a peut-être été supprimée de votre compte.",
      passkeyStepRefused: "Cette clé d'accès n'a pas été acceptée. Réessayez, ou recommencez.",
      passkeyRejected: "Le serveur n'a pas accepté cette clé d'accès. Réessayez.",
      wrongPasskey: "Cette clé d'accès n'a pas été acceptée. Réessayez.",
      tokensTitle: "Jetons d'API",
      tokensIntro: "Un jeton d'API personnel permet à un script ou à un autre programme d'utiliser l'API en votre nom, sans votre mot de passe\u00a0: il envoie le jeton dans un en-tête «\u00a0Authorization: Bearer\u00a0». Un jeton en lecture seule permet de consulter, mais pas de modifier. Révoquez un jeton dès que vous n'en avez plus besoin.",
      tokensNone: "Vous n'avez aucun jeton d'API.",
      tokenName: 'Nom du jeton', tokenNameHint: 'Son usage, par exemple «\u00a0Script de sauvegarde\u00a0» ou «\u00a0Tableau de bord\u00a0».',
      tokenScope: 'Accès', scopeRead: 'Lecture seule', scopeFull: 'Accès complet',
      tokenDays: 'Expire après', days7: '7 jours', days30: '30 jours', days90: '90 jours',
      tokenCreate: 'Créer un jeton', tokenSecret: 'Votre nouveau jeton',
      tokenSave: 'Copiez ce jeton maintenant et conservez-le en lieu sûr (dans un gestionnaire de mots de passe, par exemple). Il ne sera plus affiché.',
      tokenCopy: 'Copier', tokenDone: "Je l'ai copié", tokenCopied: 'Copié.',
      tokenCopyFailed: "Le navigateur n'a pas pu le copier\u00a0: le jeton est sélectionné, copiez-le vous-même.",
      tokenCreatedAt: 'Création', tokenLastUsed: 'Dernière utilisation', tokenNeverUsed: 'Jamais utilisé',
      tokenExpires: 'Expiration', tokenNoExpiry: 'Jamais', tokenExpiredOn: 'Expiré le {date}', tokenExpiredBadge: 'Expiré',
      tokenByAdmin: 'Créé par un administrateur',
      tokenRevoke: 'Révoquer', tokenRevokeLabel: 'Révoquer le jeton {name}',
      tokenCreated: 'Le jeton «\u00a0{name}\u00a0» a été créé.', tokenRevoked: 'Le jeton «\u00a0{name}\u00a0» a été révoqué\u00a0: il ne fonctionne plus.',
      tokenGone: 'Ce jeton avait déjà été révoqué.', tokensForbidden: "Votre compte ne peut pas créer de jeton d'API.",
      credentialsTitle: 'Tout ce qui peut se connecter en votre nom',
      credentialsIntro: "Votre mot de passe et votre code PIN, les sessions ouvertes, vos jetons d'API et vos seconds facteurs, avec leur dernière utilisation. Révoquez ce que vous ne reconnaissez pas.",
      credPassword: 'Mot de passe', credPin: 'Code PIN', credSession: 'Session', credToken: "Jeton d'API",
      credTotp: "Application d'authentification", credPasskey: "Clé d'accès", credRecovery: 'Codes de secours',
      credTitle: '{kind}\u00a0: {detail}', credSessionFrom: '{browser} depuis {address}', credTokenDetail: '{name} ({scope})',
      credCodesLeft: (p) => (p.n <= 1 ? `${p.n} restant` : `${p.n} restants`),
      credChanged: 'Dernière modification', credSetUp: 'Activation', credAdded: 'Ajout', credLastUsed: 'Dernière utilisation',
      credNever: 'Jamais', credExpires: 'Expiration',
      credRevoke: 'Révoquer', credRevokeLabel: 'Révoquer\u00a0: {what}', credRevoked: 'Révoqué\u00a0: {what}.',
      credGone: 'Cet élément avait déjà été révoqué.',
      revokeEverything: 'Déconnecter toutes les autres sessions et révoquer tous les jetons',
      revokeEverythingQuestion: "Toutes vos autres sessions seront déconnectées et tous vos jetons d'API révoqués\u00a0: les scripts et programmes qui les utilisent cesseront de fonctionner. Votre mot de passe, votre code PIN et vos seconds facteurs restent. Confirmez-vous\u00a0?",
      revokeEverythingConfirm: 'Oui, déconnecter et révoquer',
      revokedEverything: (p) => `${p.s} ${p.s <= 1 ? 'session déconnectée' : 'sessions déconnectées'} et ${p.m} ${p.m <= 1 ? 'jeton révoqué' : 'jetons révoqués'}.`,
      timelineTitle: 'Historique de sécurité',
      timelineIntro: "Connexions, tentatives refusées et modifications de votre compte, des plus récentes aux plus anciennes, avec l'adresse et le navigateur d'origine. Si l'une d'elles n'était pas vous, appuyez sur «\u00a0Ce n'était pas moi\u00a0».",
      timelineNone: "Rien à afficher pour l'instant.", timelineMore: 'Afficher les événements plus anciens',
      eventWhen: 'Date', eventOutcome: 'Résultat', eventFields: 'Détails', eventBy: 'Par',
      eventByLevel: '{name} (niveau {level})',
      outcomes: { success: 'Réussi', denied: 'Refusé', failed: 'Échec' },
      actions: {
        login: 'Connexion', logout: 'Déconnexion', user_create: 'Compte créé', profile_update: 'Profil modifié',
        account_update: 'Compte modifié', password_change: 'Mot de passe changé', pin_change: 'Code PIN changé',
        user_delete: 'Compte supprimé', session_revoke: 'Session déconnectée', token_create: "Jeton d'API créé",
        token_revoke: "Jeton d'API révoqué", factor_enroll: 'Second facteur activé', factor_remove: 'Second facteur supprimé',
        factor_reset: 'Seconds facteurs réinitialisés', reauthenticate: 'Identité confirmée à nouveau',
        recovery_codes_regenerate: 'Nouveaux codes de secours', data_export: 'Données téléchargées',
        account_throttled: 'Connexions ralenties après des tentatives refusées',
        account_read: 'Compte consulté par un administrateur',
        compromise_report: "Signalement\u00a0: ce n'était pas moi",
        password_reset_request: 'Lien de réinitialisation du mot de passe envoyé',
        email_change_request: "Changement d'adresse e-mail demandé",
      },
      reportButton: "Ce n'était pas moi", reportLabel: "Ce n'était pas moi\u00a0: {action}, {when}",
      reportQuestion: "Toutes vos sessions seront déconnectées, y compris celle-ci, et tous vos jetons d'API révoqués\u00a0: les scripts et programmes qui les utilisent cesseront de fonctionner. Vous devrez changer votre mot de passe à votre prochaine connexion. Confirmez-vous\u00a0?",
      reportConfirm: 'Oui, tout arrêter',
      reportDone: (p) => `Signalement enregistré. ${p.s} ${p.s <= 1 ? 'session déconnectée' : 'sessions déconnectées'} (y compris celle-ci) et ${p.m} ${p.m <= 1 ? "jeton d'API révoqué" : "jetons d'API révoqués"}.`
        + (p.pw ? " À votre prochaine connexion, vous devrez d'abord changer votre mot de passe." : ''),
      passwordRequired: "Quelqu'un a peut-être utilisé votre compte\u00a0: changez votre mot de passe pour continuer.",
      exportTitle: 'Vos données',
      exportIntro: "Téléchargez en un seul fichier JSON tout ce que ce service conserve sur vous\u00a0: votre profil, vos sessions, jetons d'API et seconds facteurs (jamais un secret), et votre historique de sécurité.",
      exportDownload: 'Télécharger mes données', exportDone: 'Vos données ont été téléchargées ({file}).',
      forgotPassword: 'Mot de passe oublié\u00a0?', resetRequestTitle: 'Mot de passe oublié',
      resetRequestIntro: "Saisissez votre nom d'utilisateur ou votre adresse e-mail\u00a0: nous enverrons à l'adresse e-mail de votre compte un lien pour choisir un nouveau mot de passe.",
      resetLogin: "Nom d'utilisateur ou adresse e-mail", resetSend: "M'envoyer un lien", resetBack: 'Retour à la connexion',
      resetSent: (p) => `Si un compte correspond, nous avons envoyé un lien à son adresse e-mail. Il est valable ${p.minutes} ${p.minutes <= 1 ? 'minute' : 'minutes'}.`,
      resetUnavailable: 'Le mot de passe de ce compte ne peut pas être réinitialisé ici.',
      resetConfirmTitle: 'Choisissez un nouveau mot de passe',
      resetConfirmIntro: 'Choisissez le nouveau mot de passe de votre compte. Toutes les sessions du compte seront déconnectées.',
      resetRepeat: 'Répétez le nouveau mot de passe', resetSubmit: 'Enregistrer le nouveau mot de passe',
      resetDone: 'Votre mot de passe a été changé. Toutes les sessions ont été déconnectées\u00a0: connectez-vous avec votre nouveau mot de passe.',
      resetInvalid: "Ce lien n'est plus valable\u00a0: il a déjà servi, ou il est trop ancien. Demandez un nouveau lien ci-dessous.",
      emailChangePending: (p) => `En attente de confirmation\u00a0: ${p.address} — nous avons envoyé un lien à cette adresse. `
        + (p.current ? `Votre adresse reste ${p.current} tant que vous ne l'avez pas suivi`
          : 'Elle deviendra votre adresse quand vous l\'aurez suivi')
        + ` (lien valable jusqu'au ${p.until}).`,
      emailChangeCancel: 'Annuler ce changement',
      emailChangeCancelled: (p) => (p.current ? `Le changement a été annulé\u00a0: votre adresse reste ${p.current}.`
        : 'Le changement a été annulé.'),
      emailChangeSaved: 'Enregistré. Votre nouvelle adresse e-mail attend sa confirmation.',
      emailVerifyTitle: 'Votre nouvelle adresse e-mail', emailVerifying: 'Confirmation de votre nouvelle adresse e-mail…',
      emailVerified: 'Votre adresse e-mail est désormais {address}.',
      emailVerifiedNoAddress: 'Votre nouvelle adresse e-mail est confirmée.',
      emailVerifyInvalid: "Ce lien n'est plus valable\u00a0: il a déjà servi, il a été remplacé par un changement plus récent ou annulé, ou il est trop ancien.",
      close: 'Fermer',
      signinMissing: "Saisissez votre nom d'utilisateur et votre mot de passe.",
      badCredentials: "Nom d'utilisateur ou mot de passe incorrect.",
      accountDisabled: 'Ce compte ne peut pas se connecter.',
      sessionExpired: 'Votre session a pris fin. Veuillez vous reconnecter.',
      throttled: (p) => `Trop de tentatives. Réessayez dans ${p.s} ${p.s <= 1 ? 'seconde' : 'secondes'}.`,
      throttledSoon: 'Trop de tentatives. Réessayez plus tard.',
      network: 'Le serveur est injoignable. Vérifiez votre connexion et réessayez.',
      serverError: "Une erreur s'est produite (erreur {status}). Réessayez.",
      saving: 'Enregistrement…', saved: 'Enregistré', fixErrors: 'Veuillez corriger les champs signalés en rouge.',
      notEditable: 'Vous ne pouvez pas modifier ce champ.', required: 'Obligatoire.',
      mismatch: 'Les mots de passe ne correspondent pas.',
      passwordChanged: 'Votre mot de passe a été changé. Vos autres sessions ont été déconnectées.',
      wrongPassword: 'Le mot de passe actuel est incorrect.', notChanged: "Rien n'a été modifié.",
      pinChanged: 'Votre code PIN a été changé.', wrongPin: 'Le code PIN actuel est incorrect.',
      thisSession: 'Cette session', otherSession: 'Autre session',
      created: 'Connexion', lastSeen: 'Dernière activité', client: 'Navigateur', address: 'Adresse',
      unknown: 'Inconnu', agentOn: '{browser} sous {system}', endSession: 'Déconnecter', endSessionLabel: 'Déconnecter la session ouverte le {when}',
      sessionEnded: 'La session a été déconnectée.', sessionGone: 'Cette session avait déjà pris fin.',
      endedOthers: (p) => (p.n === 0 ? "Il n'y avait aucune autre session."
        : (p.n === 1 ? '1 autre session a été déconnectée.' : `${p.n} autres sessions ont été déconnectées.`)),
      ruleMet: '(respectée)', ruleNotMet: '(non respectée)', ruleUnchecked: '',
      rulesSummary: (p) => (p.n === 0 ? 'Toutes les exigences vérifiées sont respectées.'
        : (p.n === 1 ? '1 exigence n\'est pas respectée.' : `${p.n} exigences ne sont pas respectées.`)),
      codes: {
        empty: () => 'Ne doit pas être vide.',
        too_long: (n) => (n ? `Doit comporter au plus ${n} caractères.` : 'Trop long.'),
        too_short: (n) => (n ? `Doit comporter au moins ${n} caractères.` : 'Trop court.'),
        control_character: () => 'Ne doit pas contenir de caractères de contrôle.',
        surrounding_whitespace: () => "Ne doit pas commencer ni finir par une espace.",
        path_separator: () => 'Ne doit pas contenir « / » ni « \\ ».',
        invalid_format: () => 'Format non valide.',
        out_of_range: () => 'Valeur hors des limites autorisées.',
        conflict: () => 'Valeurs incompatibles.',
      },
    },
  };

  // Which number of the policy's `rules` each rule code is about.
  const RULE_KEYS = {
    password_too_short: 'minLength', password_too_long: 'maxLength',
    password_min_uppercase: 'minUppercase', password_min_lowercase: 'minLowercase',
    password_min_digits: 'minDigits', password_min_special: 'minSpecial', password_reused: 'history',
    pin_too_short: 'minLength', pin_too_long: 'maxLength', pin_repeated_digits: 'maxRepeatedDigits',
    pin_ascending_run: 'maxAscendingRun', pin_descending_run: 'maxDescendingRun', pin_reused: 'history',
  };

  // An example of a run one longer than allowed: "1234" (or "4321").
  function runExample(n, descending) {
    const len = n + 1;
    if (!(len >= 2 && len <= 10)) return '';
    let run = len === 10 ? '0123456789' : '123456789'.slice(0, len);
    if (descending) run = [...run].reverse().join('');
    return run;
  }

  // Rule texts; `n` is the rule's number (undefined when unknown: return null to use the server's text).
  const RULE_TEXT = {
    en: {
      password_too_short: (n) => n && `At least ${n} ${n === 1 ? 'character' : 'characters'}`,
      password_too_long: (n) => n && `At most ${n} characters`,
      password_min_uppercase: (n) => n && `At least ${n} uppercase ${n === 1 ? 'letter' : 'letters'}`,
      password_min_lowercase: (n) => n && `At least ${n} lowercase ${n === 1 ? 'letter' : 'letters'}`,
      password_min_digits: (n) => n && `At least ${n} ${n === 1 ? 'digit' : 'digits'}`,
      password_min_special: (n) => n && `At least ${n} special ${n === 1 ? 'character' : 'characters'} (not a letter or digit)`,
      password_contains_username: () => 'Does not contain your username',
      password_common: () => 'Is not a common or easily guessed password',
      password_reused: (n) => (n ? `Differs from your current password and the ${n} previous ${n === 1 ? 'one' : 'ones'}`
        : 'Differs from your current password'),
      pin_too_short: (n) => n && `At least ${n} ${n === 1 ? 'digit' : 'digits'}`,
      pin_too_long: (n) => n && `At most ${n} ${n === 1 ? 'digit' : 'digits'}`,
      pin_repeated_digits: (n) => n && `The same digit at most ${n} ${n === 1 ? 'time' : 'times'} in a row`,
      pin_ascending_run: (n) => n && `At most ${n} ascending ${n === 1 ? 'digit' : 'digits'} in a row`
        + (runExample(n) ? ` (not ${runExample(n)})` : ''),
      pin_descending_run: (n) => n && `At most ${n} descending ${n === 1 ? 'digit' : 'digits'} in a row`
        + (runExample(n, true) ? ` (not ${runExample(n, true)})` : ''),
      pin_repeated_pattern: () => 'Is not one group of digits repeated (such as 1212 or 123123)',
      pin_contains_user_number: () => 'Does not contain your extension or phone number',
      pin_contains_reversed_user_number: () => 'Does not contain your extension or phone number reversed',
      pin_reused: (n) => (n ? `Differs from your current PIN and the ${n} previous ${n === 1 ? 'one' : 'ones'}`
        : 'Differs from your current PIN'),
      pin_reversed_old: () => 'Is not your current PIN reversed',
    },
    fr: {
      password_too_short: (n) => n && `Au moins ${n} ${n <= 1 ? 'caractère' : 'caractères'}`,
      password_too_long: (n) => n && `Au plus ${n} caractères`,
      password_min_uppercase: (n) => n && `Au moins ${n} ${n <= 1 ? 'majuscule' : 'majuscules'}`,
      password_min_lowercase: (n) => n && `Au moins ${n} ${n <= 1 ? 'minuscule' : 'minuscules'}`,
      password_min_digits: (n) => n && `Au moins ${n} ${n <= 1 ? 'chiffre' : 'chiffres'}`,
      password_min_special: (n) => n && `Au moins ${n} ${n <= 1 ? 'caractère spécial' : 'caractères spéciaux'} (ni lettre ni chiffre)`,
      password_contains_username: () => "Ne contient pas votre nom d'utilisateur",
      password_common: () => "N'est pas un mot de passe courant ou facile à deviner",
      password_reused: (n) => (n ? `Diffère du mot de passe actuel et ${n === 1 ? 'du précédent' : `des ${n} précédents`}`
        : 'Diffère du mot de passe actuel'),
      pin_too_short: (n) => n && `Au moins ${n} ${n <= 1 ? 'chiffre' : 'chiffres'}`,
      pin_too_long: (n) => n && `Au plus ${n} ${n <= 1 ? 'chiffre' : 'chiffres'}`,
      pin_repeated_digits: (n) => n && `Le même chiffre au plus ${n} fois de suite`,
      pin_ascending_run: (n) => n && `Au plus ${n} ${n <= 1 ? 'chiffre croissant' : 'chiffres croissants'} consécutifs`
        + (runExample(n) ? ` (pas ${runExample(n)})` : ''),
      pin_descending_run: (n) => n && `Au plus ${n} ${n <= 1 ? 'chiffre décroissant' : 'chiffres décroissants'} consécutifs`
        + (runExample(n, true) ? ` (pas ${runExample(n, true)})` : ''),
      pin_repeated_pattern: () => "N'est pas un même groupe de chiffres répété (comme 1212 ou 123123)",
      pin_contains_user_number: () => 'Ne contient pas votre numéro de poste ou de téléphone',
      pin_contains_reversed_user_number: () => "Ne contient pas votre numéro de poste ou de téléphone à l'envers",
      pin_reused: (n) => (n ? `Diffère du code PIN actuel et ${n === 1 ? 'du précédent' : `des ${n} précédents`}`
        : 'Diffère du code PIN actuel'),
      pin_reversed_old: () => "N'est pas le code PIN actuel à l'envers",
    },
  };

  function t(key, params = {}) {
    const v = I18N[state.lang][key] ?? I18N.en[key] ?? key;
    if (typeof v === 'function') return v(params);
    return v.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ''));
  }

  const capitalize = (s) => (s ? s.charAt(0).toUpperCase() + s.slice(1) : '');
  const firstNumber = (s) => { const m = /\d+/.exec(s || ''); return m ? Number(m[0]) : undefined; };

  // The text of a rule (policy check or field error) in the page language: from its code and the
  // policy's numbers (or the number in the server's message), else the server's own message.
  function ruleText(code, rules, message) {
    const fn = RULE_TEXT[state.lang][code];
    if (fn) {
      const key = RULE_KEYS[code];
      const n = key ? (rules && typeof rules[key] === 'number' ? rules[key] : firstNumber(message)) : undefined;
      const text = fn(n);
      if (text) return text;
    }
    const generic = I18N[state.lang].codes[code];
    const text = generic && generic(firstNumber(message));
    return text || capitalize(message || '') || code;
  }

  // "English", "en-GB", "Français", "fr" -> 'en' / 'fr'; anything else -> null.
  function langFromName(name) {
    const s = String(name || '').trim().toLowerCase();
    if (s === 'english' || /^en\b|^en[-_]/.test(s)) return 'en';
    if (s === 'french' || s === 'français' || s === 'francais' || /^fr\b|^fr[-_]/.test(s)) return 'fr';
    return null;
  }

  let memoryLang = ''; // the switcher's choice when localStorage is unavailable
  function storedLang() {
    try { return localStorage.getItem(LANG_KEY) || ''; } catch (_) { return memoryLang; }
  }

  function pickLang() {
    const override = storedLang();
    if (I18N[override]) return override;
    if (state.profile) state.profileLang = langFromName(state.profile.language);
    if (state.profileLang) return state.profileLang;
    for (const l of navigator.languages || [navigator.language]) {
      const code = langFromName(l);
      if (code) return code;
    }
    return 'en';
  }

  // Choose the language and translate everything on screen.
  function applyLang() {
    state.lang = pickLang();
    document.documentElement.lang = state.lang;
    document.title = t('title');
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    $('lang-select').value = storedLang();
    renderRules('password');
    renderRules('pin');
    renderSessions();
    renderSigninStep();
    renderFactors();
    renderPasskeys();
    renderReauth();
    renderTokens();
    renderCredentials();
    renderTimeline();
    renderSigninNotice();
    renderEmailChange();
    renderEmailVerify();
  }

  // ---------------------------------------------------------------- HTTP

  function xsrfToken() {
    for (const part of document.cookie.split(';')) {
      const i = part.indexOf('=');
      if (i > 0 && part.slice(0, i).trim() === 'XSRF-TOKEN') {
        try { return decodeURIComponent(part.slice(i + 1).trim()); } catch (_) { return part.slice(i + 1).trim(); }
      }
    }
    return '';
  }

  // fetch wrapper: JSON or form body, XSRF header on unsafe methods, parsed body (and its text with
  // opts.text). A 401 sends the page back to the sign-in form (unless opts.keep401, for the login
  // itself).
  async function api(method, url, body, opts = {}) {
    // X-Requested-With: the server then leaves Basic out of a 401's challenge, which would make
    // the browser open its own login prompt (browsers with Sec-Fetch-Mode need no such hint).
    const headers = { Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest' };
    let payload;
    if (body instanceof URLSearchParams) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      payload = body.toString();
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    if (method !== 'GET') {
      const token = xsrfToken();
      if (token) headers['X-XSRF-TOKEN'] = token;
    }
    let res;
    try {
      res = await fetch(url, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
    } catch (_) {
      return { ok: false, status: 0, data: null };
    }
    let data = null;
    let text = '';
    try {
      text = await res.text();
      if (text) data = JSON.parse(text);
    } catch (_) { /* not JSON */ }
    const result = { ok: res.ok, status: res.status, data, retryAfter: res.headers.get('Retry-After') };
    if (opts.text) result.text = text; // the body as the server wrote it (a download)
    // A change that needs a fresh proof answers 401 too, but the session is alive.
    if (res.status === 401 && !opts.keep401 && !isProblem(result, PROBLEM.reauth)) showSignedOut(true);
    return result;
  }

  function retrySeconds(value) {
    const n = Number.parseInt(value, 10);
    if (Number.isFinite(n)) return Math.max(n, 0);
    const date = Date.parse(value || '');
    return Number.isFinite(date) ? Math.max(Math.ceil((date - Date.now()) / 1000), 0) : null;
  }

  // A one-line message for a failed request.
  function problemText(r) {
    if (r.status === 0) return t('network');
    if (r.status === 429) {
      const s = retrySeconds(r.retryAfter);
      return s === null ? t('throttledSoon') : t('throttled', { s });
    }
    const d = r.data || {};
    return (state.lang === 'en' && (d.detail || d.title)) || t('serverError', { status: r.status });
  }

  // ---------------------------------------------------------------- form helpers

  function setStatus(id, text, kind) {
    const el = $(id);
    el.textContent = text || '';
    el.classList.toggle('ok', kind === 'ok');
    el.classList.toggle('bad', kind === 'bad');
  }

  // One error alone as it is; several as sentences ("At least 8 characters. At least 1 digit.").
  const sentence = (text) => (/[.!?…]$/.test(text) ? text : `${text}.`);

  function fieldError(inputId, message) {
    const el = $(`${inputId}-error`);
    el.textContent = el.textContent ? `${sentence(el.textContent)} ${sentence(message)}` : message;
    $(inputId).setAttribute('aria-invalid', 'true');
  }

  function clearErrors(form) {
    for (const input of form.querySelectorAll('input, select')) {
      input.removeAttribute('aria-invalid');
      const el = $(`${input.id}-error`);
      if (el) el.textContent = '';
    }
  }

  function focusFirstInvalid(form) {
    const input = form.querySelector('input[aria-invalid="true"], select[aria-invalid="true"]');
    if (input) input.focus();
  }

  // Show a problem+json answer: each errors[] entry next to its field (fieldMap: JSON field ->
  // input id), the rest in the status line.
  function showProblem(r, form, fieldMap, statusId, rules) {
    const errors = (r.data && Array.isArray(r.data.errors)) ? r.data.errors : [];
    const loose = [];
    let placed = 0;
    for (const err of errors) {
      const inputId = fieldMap[err.field];
      const text = r.status === 403 && !err.code ? t('notEditable') : ruleText(err.code, rules, err.message);
      if (inputId) { fieldError(inputId, text); placed++; } else loose.push(text);
    }
    if (r.status === 429 || r.status === 0 || (!placed && !loose.length)) setStatus(statusId, problemText(r), 'bad');
    else setStatus(statusId, [placed ? t('fixErrors') : '', ...loose].filter(Boolean).join(' '), 'bad');
    focusFirstInvalid(form);
  }

  // A 403 for a wrong current password or PIN (not, say, a refused XSRF token).
  const isWrongSecret = (r) => r.status === 403 && !!r.data && r.data.type === 'urn:accountd:problem:wrong-secret';

  // Disables `button` while `work` runs. A disabled button loses the focus to <body>, which would
  // send a keyboard user back to the top of the page: give it back unless `work` moved it on purpose.
  async function busy(button, work) {
    button.disabled = true;
    try {
      return await work();
    } finally {
      button.disabled = false;
      const lost = !document.activeElement || document.activeElement === document.body;
      if (lost && !button.closest('[hidden]')) button.focus();
    }
  }

  // ---------------------------------------------------------------- views

  function showSignedOut(expired) {
    const wasSignedIn = document.body.dataset.state === 'signed-in';
    if (passwordChecker) passwordChecker.cancel();
    if (pinChecker) pinChecker.cancel();
    state.profile = null;
    state.pwPolicy = null;
    state.pinPolicy = null;
    state.sessions = [];
    state.factors = null;
    state.passkeys = [];
    state.enrollOnly = false;
    state.passwordOnly = false;
    state.signinStep = null;
    state.reauth = null;
    state.tokens = [];
    state.credentials = [];
    state.events = [];
    state.eventsNext = null;
    state.eventsLoaded = false;
    state.reporting = null;
    state.signinNotice = null;
    state.emailChange = null;
    tokensSeq++; // answers still on their way are for the session that ended
    credentialsSeq++;
    timelineSeq++;
    emailChangeSeq++;
    for (const id of ['profile-form', 'password-form', 'pin-form', 'totp-confirm-form', 'reauth-form', 'passkey-form',
      'token-form']) {
      $(id).reset();
      clearErrors($(id));
    }
    for (const id of ['profile-status', 'password-status', 'pin-status', 'sessions-status', 'signout-status',
      'factors-status', 'recovery-status', 'reauth-status', 'passkeys-status', 'tokens-status', 'credentials-status',
      'token-copy-status', 'timeline-status', 'export-status']) setStatus(id, '');
    hideEnrollment();
    hideCodes();
    hideTokenSecret();
    closeRevokeEverything();
    $('reauth-section').hidden = true;
    $('password-required').hidden = true;
    $('signin-password').value = '';
    $('signin-code').value = '';
    $('signin-factor-error').textContent = '';
    $('signin-factor-form').hidden = true;
    closeReset();
    $('signin-form').hidden = false;
    $('account').hidden = true;
    $('loading').hidden = true;
    $('signin').hidden = false;
    applyLang();
    $('signin-error').textContent = expired && wasSignedIn ? t('sessionExpired') : '';
    document.body.dataset.state = 'signed-out';
  }

  function renderProfile(p) {
    $('whoami').textContent = p.username || '';
    $('password-username').value = p.username || '';
    const editable = Array.isArray(p.editable) ? p.editable : [];
    for (const f of PROFILE_FIELDS) {
      const input = $(`profile-${f}`);
      const canEdit = editable.includes(f);
      input.value = p[f] ?? '';
      input.readOnly = !canEdit;
      $(`profile-${f}-hint`).hidden = canEdit;
      input.setAttribute('aria-describedby', canEdit ? `profile-${f}-error` : `profile-${f}-hint profile-${f}-error`);
    }
    renderEmailChange(); // the pending address describes the field
  }

  // A change of the e-mail address waiting for its link (email.verify_changes): under the field,
  // the new address, the one that stays until then, until when the link works, and "Cancel this
  // change". Nothing when none waits (and nothing new at all without verify_changes).
  function renderEmailChange() {
    const c = state.emailChange;
    const pending = c && c.pending && typeof c.pending.emailAddress === 'string' ? c.pending : null;
    const status = $('email-change-status');
    const text = pending ? t('emailChangePending', {
      address: pending.emailAddress,
      current: (state.profile && state.profile.emailAddress) || '',
      until: formatDate(pending.expiresAt),
    }) : '';
    if (status.textContent !== text) status.textContent = text; // unchanged: not announced again
    $('email-change-actions').hidden = !pending;
    const input = $('profile-emailAddress');
    const ids = (input.getAttribute('aria-describedby') || '').split(/\s+/)
      .filter((id) => id && id !== 'email-change-status');
    if (pending) ids.push('email-change-status');
    input.setAttribute('aria-describedby', ids.join(' '));
  }

  // The card saying what the link confirming a new address came to (above the rest of the page).
  function renderEmailVerify() {
    const v = state.emailVerify;
    const card = $('email-verify');
    card.hidden = !v;
    if (!v) {
      delete card.dataset.outcome;
      setStatus('email-verify-status', '');
      return;
    }
    card.dataset.outcome = v.kind;
    const text = v.response ? problemText(v.response) : (state.lang === 'en' && v.detail) || t(v.key, v.params);
    if ($('email-verify-status').textContent !== text) setStatus('email-verify-status', text, v.kind); // unchanged: not announced again
  }

  // The policy rule lists: one li per check, keeping each li's data-state across re-renders.
  function renderRules(kind) {
    const ul = $(`${kind}-rules`);
    const policy = kind === 'password' ? state.pwPolicy : state.pinPolicy;
    const checks = (policy && policy.checks) || [];
    const previous = {};
    for (const li of ul.children) previous[li.dataset.code] = li.dataset.state;
    ul.replaceChildren(...checks.map((c) => {
      const li = h('li', { dataset: { code: c.code } }, h('span', { textContent: ruleText(c.code, policy.rules, c.message) }),
        ' ', h('span', { className: 'visually-hidden' })); // the state, for screen readers
      setRuleState(li, previous[c.code] || 'pending');
      return li;
    }));
    $(`${kind}-rules-title`).hidden = checks.length === 0;
  }

  function setRuleState(li, value) {
    li.dataset.state = value;
    const note = li.lastElementChild;
    if (note) note.textContent = t({ pass: 'ruleMet', fail: 'ruleNotMet' }[value] || 'ruleUnchecked');
  }

  function resetRules(kind) {
    for (const li of $(`${kind}-rules`).children) setRuleState(li, 'pending');
    $(`${kind}-rules-summary`).textContent = '';
  }

  // Apply a policy verdict {checks:[{code,message,passed}]} to the rule list.
  function applyVerdict(kind, verdict) {
    const policy = kind === 'password' ? state.pwPolicy : state.pinPolicy;
    const checks = (verdict && verdict.checks) || [];
    if (policy && checks.some((c) => !policy.checks.some((p) => p.code === c.code))) {
      policy.checks = checks.map(({ code, message }) => ({ code, message })); // a rule we did not know of
      renderRules(kind);
    }
    for (const c of checks) {
      const li = [...$(`${kind}-rules`).children].find((el) => el.dataset.code === c.code);
      if (li) setRuleState(li, c.passed === true ? 'pass' : c.passed === false ? 'fail' : 'pending');
    }
    const failing = checks.filter((c) => c.passed === false).length;
    $(`${kind}-rules-summary`).textContent = t('rulesSummary', { n: failing });
  }

  function renderPin() {
    const p = state.pinPolicy;
    const applies = !!(p && p.applies && p.resource);
    $('pin-section').hidden = !applies;
    const hasPin = applies && !!p.hasPin;
    $('pin-old-field').hidden = !hasPin;
    $('pin-old').hidden = !hasPin;
    $('pin-old').disabled = !hasPin;
    renderRules('pin');
  }

  // An instant in the page's language and the browser's time zone (to the second with `seconds`).
  function formatDate(iso, seconds) {
    if (!iso) return t('unknown');
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    try {
      return new Intl.DateTimeFormat(state.lang, { dateStyle: 'medium', timeStyle: seconds ? 'medium' : 'short' }).format(d);
    } catch (_) {
      return d.toLocaleString();
    }
  }

  // "Chrome 156 on Linux" from a User-Agent, for people; the whole string stays in the title. The
  // order matters: Edge and Opera also say Chrome, Chrome also says Safari.
  function describeAgent(ua) {
    if (!ua) return null;
    const browsers = [[/Edg(?:e|A|iOS)?\/(\d+)/, 'Edge'], [/OPR\/(\d+)/, 'Opera'], [/Firefox\/(\d+)/, 'Firefox'],
      [/(?:HeadlessChrome|Chromium|Chrome|CriOS)\/(\d+)/, 'Chrome'], [/Version\/(\d+)[.\d]* (?:Mobile\/\S+ )?Safari\//, 'Safari']];
    const systems = [[/Android/, 'Android'], [/iPhone|iPad|iPod/, 'iOS'], [/Windows/, 'Windows'], [/Mac OS X|Macintosh/, 'macOS'],
      [/CrOS/, 'ChromeOS'], [/Linux/, 'Linux']];
    const browser = browsers.map(([re, name]) => { const m = re.exec(ua); return m && `${name} ${m[1]}`; }).find(Boolean);
    const system = (systems.find(([re]) => re.test(ua)) || [])[1];
    if (!browser) return null;
    return system ? t('agentOn', { browser, system }) : browser;
  }

  function renderSessions() {
    const ul = $('sessions-list');
    ul.replaceChildren(...state.sessions.map((s) => {
      const client = s.client || {};
      const time = (iso) => (iso ? h('time', { dateTime: iso, textContent: formatDate(iso) }) : t('unknown'));
      const agent = describeAgent(client.userAgent);
      const browser = agent ? h('span', { textContent: agent, title: client.userAgent }) : (client.userAgent || t('unknown'));
      const dl = h('dl');
      for (const [label, value] of [['created', time(s.createdAt)], ['lastSeen', time(s.lastSeenAt)],
        ['client', browser], ['address', client.address || t('unknown')]]) {
        dl.append(h('dt', { textContent: t(label) }), h('dd', {}, value));
      }
      const li = h('li', { dataset: { sessionId: String(s.id), current: String(!!s.current) } },
        h('div', { className: 'session-info' },
          h('p', { className: 'session-title', textContent: t(s.current ? 'thisSession' : 'otherSession') }), dl));
      if (!s.current) {
        const button = h('button', { type: 'button', className: 'session-end', textContent: t('endSession') });
        button.setAttribute('aria-label', t('endSessionLabel', { when: formatDate(s.createdAt) }));
        button.addEventListener('click', () => endSession(s.id, button));
        li.append(button);
      }
      return li;
    }));
  }

  // Sets the i18n key of an element (applyLang keeps it translated) and its text now.
  function setI18n(id, key) {
    const el = $(id);
    el.dataset.i18n = key;
    el.textContent = t(key);
  }

  // The sign-in form's second step: a code from the app, a passkey, or a recovery code. The code
  // field only for a code; the passkey's button whenever the account has one and the browser can.
  function renderSigninStep() {
    const step = state.signinStep;
    if (!step) return;
    const recovery = step.mode === 'recovery';
    const passkey = step.mode === 'passkey';
    setI18n('signin-factor-intro', recovery ? 'factorIntroRecovery' : passkey ? 'factorIntroPasskey' : 'factorIntroTotp');
    setI18n('signin-code-label', recovery ? 'recoveryCode' : 'factorCode');
    setI18n('signin-use-recovery', !recovery ? 'useRecovery' : step.primary === 'totp' ? 'useApp' : 'usePasskeyInstead');
    $('signin-use-recovery').closest('p').hidden = !step.methods.includes('recovery_code')
      || (recovery && step.primary === 'recovery');
    $('signin-code-field').hidden = passkey;
    $('signin-factor-submit').hidden = passkey;
    $('second-step-passkey-line').hidden = !step.canPasskey;
    $('second-step-passkey').classList.toggle('primary', passkey);
    const input = $('signin-code');
    input.inputMode = recovery ? 'text' : 'numeric';
    input.autocomplete = recovery ? 'off' : 'one-time-code';
  }

  function renderFactors() {
    const f = state.factors;
    const line = $('factors-state');
    const enrolling = !$('totp-enroll').hidden;
    $('factors-required').hidden = !state.enrollOnly;
    $('totp-qr').setAttribute('aria-label', t('qrLabel'));
    if (!f) {
      line.textContent = '';
      delete line.dataset.state;
      $('totp-setup').hidden = true;
      $('totp-remove').hidden = true;
      $('recovery-section').hidden = true;
      return;
    }
    const key = { pending: 'totpStatePending', enabled: 'totpStateEnabled' }[f.totp] || 'totpStateNone';
    const date = f.totp_enabled_at ? formatDate(new Date(f.totp_enabled_at).toISOString()) : t('unknown');
    line.dataset.state = f.totp;
    line.textContent = t(key, { date });
    const on = f.totp === 'enabled';
    $('totp-setup').hidden = on || enrolling;
    $('totp-remove').hidden = !on || state.enrollOnly;
    // The recovery codes stand in for any factor: an authenticator app or a passkey.
    const anyFactor = on || Number(f.passkeys || 0) > 0;
    $('recovery-section').hidden = !anyFactor || state.enrollOnly;
    $('recovery-left').textContent = t('codesLeft', { n: Number(f.recovery_codes_left || 0) });
  }

  // "ABCDEFGHIJKL..." -> "ABCD EFGH IJKL ...", easier to type into an app.
  const groupSecret = (secret) => String(secret || '').replace(/(.{4})(?=.)/g, '$1 ');

  // The server's QR code (an SVG document) as a live <svg>. Trusted Types refuse HTML strings, so
  // the one string the page parses goes through this policy, which only lets an SVG document
  // through to DOMParser (inert: nothing in it runs); the copy then keeps only the shapes
  // (elements and attributes from an allowlist) and none of the source's nodes.
  let svgPolicy = null;
  const SVG_ELEMENTS = new Set(['g', 'path', 'rect']);
  const SVG_ATTRIBUTES = new Set(['viewBox', 'width', 'height', 'd', 'x', 'y', 'fill', 'fill-rule', 'stroke',
    'stroke-width', 'transform', 'shape-rendering']);
  function importSvg(text) {
    if (typeof text !== 'string' || !/^\s*(<\?xml[^>]*\?>\s*)?<svg[\s>]/.test(text)) return null;
    let source = text;
    try {
      if (window.trustedTypes && window.trustedTypes.createPolicy) {
        svgPolicy = svgPolicy || window.trustedTypes.createPolicy('accountd-qr-svg', {
          createHTML: (s) => {
            if (!/^\s*(<\?xml[^>]*\?>\s*)?<svg[\s>]/.test(s)) throw new TypeError('not an SVG document');
            return s;
          },
        });
        source = svgPolicy.createHTML(text);
      }
      const doc = new DOMParser().parseFromString(source, 'image/svg+xml');
      const root = doc.documentElement;
      if (!root || root.namespaceURI !== SVG_NS || root.localName !== 'svg'
        || doc.getElementsByTagName('parsererror').length) return null;
      const svg = copySvg(root);
      svg.setAttribute('aria-hidden', 'true');
      svg.setAttribute('focusable', 'false');
      return svg;
    } catch (_) {
      return null; // the key stays, to type in
    }
  }

  function copySvg(node) {
    const el = document.createElementNS(SVG_NS, node.localName);
    for (const a of node.attributes) {
      if (!a.namespaceURI && SVG_ATTRIBUTES.has(a.name) && !/url\s*\(|script:/i.test(a.value)) el.setAttribute(a.name, a.value);
    }
    for (const child of node.children) {
      if (child.namespaceURI === SVG_NS && SVG_ELEMENTS.has(child.localName)) el.append(copySvg(child));
    }
    return el;
  }

  function showEnrollment(data) {
    const form = $('totp-confirm-form');
    form.reset();
    clearErrors(form);
    $('totp-secret').textContent = groupSecret(data.secret);
    const svg = importSvg(data.qr_svg);
    $('totp-qr').replaceChildren(...(svg ? [svg] : []));
    $('totp-qr').hidden = !svg;
    $('totp-enroll').hidden = false;
    renderFactors();
    $('totp-scan').focus(); // read first; Tab then reaches the code field
  }

  function hideEnrollment() {
    $('totp-enroll').hidden = true;
    $('totp-secret').textContent = '';
    $('totp-qr').replaceChildren();
    $('totp-confirm-form').reset();
    clearErrors($('totp-confirm-form'));
  }

  // New recovery codes, shown once: the focus goes to them.
  function showCodes(codes, back) {
    state.codesBack = back;
    $('codes-list').replaceChildren(...codes.map((c) => h('li', {}, h('code', { textContent: String(c) }))));
    $('codes-card').hidden = false;
    $('codes-title').focus();
  }

  function hideCodes() {
    $('codes-list').replaceChildren();
    $('codes-card').hidden = true;
  }

  // The form asking for a fresh proof: a code from the app, a passkey or a recovery code for a
  // user with a second factor, else the password. The passkey's button whenever the user has one
  // and the browser can; the field only for what is typed.
  function renderReauth() {
    const r = state.reauth;
    if (!r) return;
    const passkey = r.mode === 'passkey';
    $('reauth-field').hidden = passkey;
    $('reauth-submit').hidden = passkey;
    $('reauth-passkey-line').hidden = !(r.hasPasskey && passkeysSupported());
    $('reauth-passkey').classList.toggle('primary', passkey);
    setI18n('reauth-label', { totp: 'factorCode', recovery: 'recoveryCode', password: 'password', passkey: 'factorCode' }[r.mode]);
    setI18n('reauth-use-recovery', r.mode !== 'recovery' ? 'useRecovery' : r.primary === 'totp' ? 'useApp' : 'usePasskeyInstead');
    const left = state.factors ? Number(state.factors.recovery_codes_left || 0) : 0;
    $('reauth-use-recovery').closest('p').hidden = !r.hasFactor || (r.mode !== 'recovery' && left === 0)
      || (r.mode === 'recovery' && r.primary === 'recovery');
    const input = $('reauth-secret');
    input.type = r.mode === 'password' ? 'password' : 'text';
    input.inputMode = r.mode === 'totp' ? 'numeric' : 'text';
    input.autocomplete = { totp: 'one-time-code', recovery: 'off', password: 'current-password', passkey: 'off' }[r.mode];
  }

  // The caller's passkeys: one li each (name, when added, when last used, a Remove button); the
  // form to add one only when the browser can create passkeys.
  function renderPasskeys() {
    const supported = passkeysSupported();
    $('passkey-form').hidden = !supported;
    $('passkey-unsupported').hidden = supported;
    const passkeys = state.passkeys || [];
    $('passkey-empty').hidden = passkeys.length > 0;
    $('passkey-list').hidden = passkeys.length === 0;
    const time = (ms) => {
      const d = new Date(Number(ms));
      if (!Number.isFinite(d.getTime())) return t('unknown');
      const iso = d.toISOString();
      return h('time', { dateTime: iso, textContent: formatDate(iso) });
    };
    $('passkey-list').replaceChildren(...passkeys.map((p) => {
      const dl = h('dl');
      for (const [label, value] of [['passkeyCreated', time(p.created_at)],
        ['passkeyLastUsed', p.last_used_at == null ? t('passkeyNeverUsed') : time(p.last_used_at)]]) {
        dl.append(h('dt', { textContent: t(label) }), h('dd', {}, value));
      }
      const button = h('button', { type: 'button', className: 'passkey-remove', textContent: t('passkeyRemove') });
      button.setAttribute('aria-label', t('passkeyRemoveLabel', { name: p.name }));
      button.addEventListener('click', () => removePasskey(p, button));
      return h('li', { dataset: { passkeyId: String(p.id) } },
        h('div', { className: 'passkey-info' }, h('p', { className: 'passkey-title', textContent: String(p.name || '') }), dl),
        button);
    }));
  }


  // A <time> for an RFC 3339 instant (to the second with `seconds`), or "Unknown".
  const timeOf = (iso, seconds) => (iso ? h('time', { dateTime: iso, textContent: formatDate(iso, seconds) }) : t('unknown'));

  // One dl of label (an i18n key) and value (text or a node) pairs.
  function details(rows) {
    const dl = h('dl');
    for (const [label, value] of rows) dl.append(h('dt', { textContent: t(label) }), h('dd', {}, value));
    return dl;
  }

  const scopeText = (scope) => ({ read: t('scopeRead'), full: t('scopeFull') }[scope] || String(scope || ''));

  // The caller's API tokens: one li each (name, access, created, last used, expiry, a Revoke button).
  function renderTokens() {
    const tokens = state.tokens || [];
    $('token-empty').hidden = tokens.length > 0;
    $('token-list').hidden = tokens.length === 0;
    $('token-list').replaceChildren(...tokens.map((tk) => {
      const name = String(tk.name || '');
      const expiry = tk.expired ? t('tokenExpiredOn', { date: formatDate(tk.expiresAt) })
        : tk.expiresAt ? timeOf(tk.expiresAt) : t('tokenNoExpiry');
      const title = h('p', { className: 'item-title' }, h('span', { className: 'token-name', textContent: name }));
      if (tk.expired) title.append(' ', h('span', { className: 'badge badge-bad', textContent: t('tokenExpiredBadge') }));
      const info = h('div', { className: 'item-info' }, title, details([
        ['tokenScope', scopeText(tk.scope)],
        ['tokenCreatedAt', timeOf(tk.createdAt)],
        ['tokenLastUsed', tk.lastUsedAt ? timeOf(tk.lastUsedAt) : t('tokenNeverUsed')],
        ['tokenExpires', expiry],
      ]));
      if (tk.personal === false) info.append(h('p', { className: 'hint', textContent: t('tokenByAdmin') }));
      const button = h('button', { type: 'button', className: 'token-revoke', textContent: t('tokenRevoke') });
      button.setAttribute('aria-label', t('tokenRevokeLabel', { name }));
      button.addEventListener('click', () => revokeToken(tk, button));
      return h('li', { dataset: { tokenId: String(tk.id), scope: String(tk.scope || ''), expired: String(!!tk.expired) } },
        info, button);
    }));
  }

  // The i18n key of each kind of credential, and of the date it was set up (or changed).
  const CREDENTIAL_KINDS = {
    password: { label: 'credPassword', created: 'credChanged' },
    pin: { label: 'credPin', created: 'credChanged' },
    session: { label: 'credSession', created: 'created', used: 'lastSeen', expires: 'credExpires' },
    api_token: { label: 'credToken', created: 'tokenCreatedAt', used: 'credLastUsed', expires: 'credExpires' },
    totp: { label: 'credTotp', created: 'credSetUp', used: 'credLastUsed' },
    passkey: { label: 'credPasskey', created: 'credAdded', used: 'credLastUsed' },
    recovery_codes: { label: 'credRecovery' },
  };

  // What a credential is, for people: "API token: dashboard (Read only)", "Session: Chrome 120 on
  // Linux from 10.0.0.1", "Recovery codes: 3 left".
  function credentialName(c) {
    const kind = CREDENTIAL_KINDS[c.kind];
    const label = kind ? t(kind.label) : String(c.kind || '');
    let detail = '';
    if (c.kind === 'session') {
      const browser = describeAgent(c.name) || c.name || t('unknown');
      detail = c.address ? t('credSessionFrom', { browser, address: c.address }) : browser;
    } else if (c.kind === 'api_token') {
      detail = t('credTokenDetail', { name: c.name || '', scope: scopeText(c.scope) });
    } else if (c.kind === 'recovery_codes') {
      detail = t('credCodesLeft', { n: Number(c.remaining || 0) });
    } else if (c.name) {
      detail = String(c.name);
    }
    return detail ? t('credTitle', { kind: label, detail }) : label;
  }

  // Everything that can sign in as the user, in one list; a Revoke button where the server says how.
  function renderCredentials() {
    const list = state.credentials || [];
    $('credential-list').replaceChildren(...list.map((c) => {
      const kind = CREDENTIAL_KINDS[c.kind] || {};
      const what = credentialName(c);
      const rows = [];
      if (kind.created) rows.push([kind.created, timeOf(c.createdAt)]);
      if (kind.used) rows.push([kind.used, c.lastUsedAt ? timeOf(c.lastUsedAt) : t('credNever')]);
      if (kind.expires && c.expiresAt) rows.push([kind.expires, timeOf(c.expiresAt)]);
      const title = h('p', { className: 'item-title', textContent: what });
      if (c.current) title.append(' ', h('span', { className: 'badge', textContent: t('thisSession') }));
      const dataset = { kind: String(c.kind || ''), current: String(!!c.current) };
      if (c.id != null) dataset.credentialId = String(c.id);
      const li = h('li', { dataset }, h('div', { className: 'item-info' }, title, ...(rows.length ? [details(rows)] : [])));
      if (c.kind === 'session' && c.name) title.title = String(c.name);
      if (revokeAction(c)) {
        const button = h('button', { type: 'button', className: 'credential-revoke', textContent: t('credRevoke') });
        button.setAttribute('aria-label', t('credRevokeLabel', { what }));
        button.addEventListener('click', () => revokeCredential(c, what, button));
        li.append(button);
      }
      return li;
    }));
  }

  // The server's way to revoke a credential, when it is one the page sends: DELETE of a path under
  // /api/ on this origin. Anything else gets no button.
  function revokeAction(c) {
    const r = c && c.revoke;
    if (!r || String(r.method).toUpperCase() !== 'DELETE') return null;
    const path = String(r.path || '');
    if (!/^\/api\/[A-Za-z0-9_\/.~-]*$/.test(path) || path.includes('..') || path.includes('//')) return null;
    return { method: 'DELETE', path };
  }

  // The name of an audit action ("login", "compromise_report"…) and of an outcome for people; an
  // unknown one as the server wrote it.
  const actionText = (action) => (I18N[state.lang].actions || {})[action] || I18N.en.actions[action] || String(action || '');
  const outcomeText = (outcome) => (I18N[state.lang].outcomes || {})[outcome] || I18N.en.outcomes[outcome] || String(outcome || '');

  // Who acted on the user's account when it was not them: "admin (level 16)", "operator".
  function byText(by) {
    const name = String((by && by.name) || t('unknown'));
    return by && typeof by.level === 'number' ? t('eventByLevel', { name, level: by.level }) : name;
  }

  // The security timeline: one li per event (what, the outcome when it was not a success, when,
  // from which address and browser, the members involved, who when it was not the user) with
  // "This wasn't me" on each; the confirmation under the event it is about.
  function renderTimeline() {
    const events = state.events || [];
    $('timeline-empty').hidden = !state.eventsLoaded || events.length > 0;
    $('timeline-list').hidden = events.length === 0;
    $('timeline-more').hidden = state.eventsNext == null;
    $('timeline-list').replaceChildren(...events.map(eventItem));
  }

  function eventItem(e) {
    const action = String(e.action || '');
    const outcome = String(e.outcome || '');
    const label = actionText(action);
    const title = h('p', { className: 'item-title' }, h('span', { className: 'event-action', textContent: label }));
    if (outcome !== 'success') {
      title.append(' ', h('span', { className: 'badge badge-bad event-outcome', textContent: outcomeText(outcome) }));
    }
    const rows = [['eventWhen', timeOf(e.at, true)], ['eventOutcome', outcomeText(outcome)]];
    if (e.address) rows.push(['address', String(e.address)]);
    if (e.userAgent) {
      const ua = String(e.userAgent);
      rows.push(['client', h('span', { className: 'event-agent', textContent: describeAgent(ua) || ua, title: ua })]);
    }
    const fields = Array.isArray(e.fields) ? e.fields.map(String) : [];
    if (fields.length) rows.push(['eventFields', fields.join(', ')]);
    if (e.by) rows.push(['eventBy', byText(e.by)]);
    const button = h('button', { type: 'button', className: 'event-report', textContent: t('reportButton') });
    button.setAttribute('aria-label', t('reportLabel', { action: label, when: formatDate(e.at, true) }));
    const open = state.reporting === e.id;
    button.setAttribute('aria-expanded', String(open));
    button.addEventListener('click', () => askReport(e));
    const li = h('li', { tabIndex: -1, dataset: { eventId: String(e.id), action, outcome } },
      h('div', { className: 'item-info' }, title, details(rows)), button);
    if (open) {
      button.setAttribute('aria-controls', 'report-box');
      li.append(reportBox(e));
    }
    return li;
  }

  // "This wasn't me" asks first, on the page, saying what it does: Yes or Cancel.
  function reportBox(e) {
    const yes = h('button', { id: 'report-confirm', type: 'button', className: 'primary danger', textContent: t('reportConfirm') });
    yes.setAttribute('aria-describedby', 'report-question');
    yes.addEventListener('click', () => reportEvent(e, yes));
    const no = h('button', { id: 'report-cancel', type: 'button', textContent: t('cancel') });
    no.addEventListener('click', () => closeReport(true));
    return h('div', { id: 'report-box', className: 'confirm' },
      h('p', { id: 'report-question', className: 'notice', textContent: t('reportQuestion') }),
      h('div', { className: 'actions' }, yes, no));
  }

  // The sign-in form's note on what ended the last session.
  function renderSigninNotice() {
    const n = state.signinNotice;
    $('signin-status').textContent = n ? t(n.key, n.params) : '';
  }

  // A new token, shown this once: the field has the focus (and the text selected), its warning
  // describes it.
  function showTokenSecret(token) {
    const input = $('token-secret');
    input.value = String(token || '');
    setStatus('token-copy-status', '');
    $('token-new').hidden = false;
    input.focus();
    input.select();
  }

  // The token is put away: gone from the page.
  function hideTokenSecret() {
    $('token-secret').value = '';
    setStatus('token-copy-status', '');
    $('token-new').hidden = true;
  }

  // ---------------------------------------------------------------- loading

  async function loadSessions() {
    const r = await api('GET', API.sessions);
    if (r.ok) {
      state.sessions = (r.data && r.data.sessions) || [];
      renderSessions();
    } else if (r.status !== 401) {
      setStatus('sessions-status', problemText(r), 'bad');
    }
    return r;
  }

  async function loadPinPolicy() {
    const r = await api('GET', API.pinPolicy);
    state.pinPolicy = r.ok && r.data ? { ...r.data, checks: r.data.checks || [] } : null;
    renderPin();
    return r;
  }

  async function loadFactors() {
    const r = await api('GET', API.factors);
    if (r.ok && r.data) state.factors = r.data;
    else if (r.status !== 401) setStatus('factors-status', problemText(r), 'bad');
    renderFactors();
    return r;
  }

  async function loadPasskeys() {
    const r = await api('GET', API.passkeys);
    if (r.ok) state.passkeys = (r.data && Array.isArray(r.data.passkeys)) ? r.data.passkeys : [];
    else if (r.status !== 401) setStatus('passkeys-status', problemText(r), 'bad');
    renderPasskeys();
    return r;
  }

  // The tokens and the credentials may be loaded by several changes at once: the newest answer wins.
  let tokensSeq = 0;
  let credentialsSeq = 0;
  const skipped = { ok: true, status: 200, data: null };

  async function loadTokens() {
    if (state.enrollOnly) return skipped; // the section is not shown
    const mine = ++tokensSeq;
    const r = await api('GET', API.tokens);
    if (mine !== tokensSeq) return r;
    if (r.ok) state.tokens = (r.data && Array.isArray(r.data.tokens)) ? r.data.tokens : [];
    else if (r.status !== 401) setStatus('tokens-status', problemText(r), 'bad');
    renderTokens();
    return r;
  }

  async function loadCredentials() {
    if (state.enrollOnly) return skipped;
    const mine = ++credentialsSeq;
    const r = await api('GET', API.credentials);
    if (mine !== credentialsSeq) return r;
    if (r.ok) state.credentials = (r.data && Array.isArray(r.data.credentials)) ? r.data.credentials : [];
    else if (r.status !== 401) setStatus('credentials-status', problemText(r), 'bad');
    renderCredentials();
    return r;
  }

  // The newest page of the timeline, or (`older`) the page after those loaded.
  let timelineSeq = 0;
  async function loadTimeline(older) {
    if (state.enrollOnly || state.passwordOnly) return skipped; // the section is not shown
    const mine = ++timelineSeq;
    const params = new URLSearchParams({ limit: String(EVENTS_PAGE) });
    if (older && state.eventsNext != null) params.set('before', String(state.eventsNext));
    const r = await api('GET', `${API.events}?${params}`);
    if (mine !== timelineSeq) return r;
    if (r.ok) {
      const events = (r.data && Array.isArray(r.data.events)) ? r.data.events : [];
      state.events = older ? [...state.events, ...events] : events;
      state.eventsNext = r.data && r.data.next != null ? r.data.next : null;
      state.eventsLoaded = true;
      if (!state.events.some((e) => e.id === state.reporting)) state.reporting = null;
    } else if (r.status !== 401) {
      setStatus('timeline-status', problemText(r), 'bad');
    }
    renderTimeline();
    return r;
  }

  // The change of the e-mail address waiting for its link, if any. Quiet when the answer is not a
  // success (a server without the route): the profile works as before.
  let emailChangeSeq = 0;
  async function loadEmailChange() {
    const mine = ++emailChangeSeq;
    const r = await api('GET', API.emailChange);
    if (mine !== emailChangeSeq) return r;
    if (r.ok && r.data) state.emailChange = { verifyChanges: !!r.data.verifyChanges, pending: r.data.pending || null };
    else if (r.status !== 401) state.emailChange = null;
    renderEmailChange();
    return r;
  }

  // After a token or a credential was revoked: every section that lists one (and the timeline,
  // which says so).
  async function loadEverything() {
    await Promise.all([loadSessions(), loadTokens(), loadCredentials(), loadFactors(), loadPasskeys(), loadTimeline()]);
  }

  // Signed in: fetch everything else, render, then (and only then) flag the body as signed-in.
  async function enterSignedIn(profile) {
    document.body.dataset.state = 'loading';
    state.profile = profile;
    state.enrollOnly = false;
    state.passwordOnly = false;
    $('account').dataset.mode = 'full';
    $('password-required').hidden = true;
    const answers = await Promise.all([api('GET', API.passwordPolicy), loadPinPolicy(),
      loadSessions(), loadFactors(), loadPasskeys(), loadTokens(), loadCredentials(), loadTimeline(), loadEmailChange()]);
    if (answers.some((r) => r.status === 401)) return; // already back on the sign-in form
    const [pw] = answers;
    state.pwPolicy = pw.ok && pw.data ? { rules: pw.data.rules || null, checks: pw.data.checks || [] } : null;
    renderProfile(profile);
    renderPin();
    applyLang();
    $('signin').hidden = true;
    $('loading').hidden = true;
    $('account').hidden = false;
    document.body.dataset.state = 'signed-in';
  }

  // A session that must enroll a second factor first: only the two-step and passkey sections (and
  // sign out) until it does.
  async function enterEnrollmentOnly(username) {
    document.body.dataset.state = 'loading';
    state.profile = null;
    state.enrollOnly = true;
    state.passwordOnly = false;
    $('account').dataset.mode = 'enroll';
    $('password-required').hidden = true;
    const [r, passkeys] = await Promise.all([loadFactors(), loadPasskeys()]);
    if (r.status === 401 || passkeys.status === 401) return;
    $('whoami').textContent = username || '';
    applyLang();
    $('signin').hidden = true;
    $('loading').hidden = true;
    $('account').hidden = false;
    document.body.dataset.state = 'enrolling';
  }

  // A session held to a password change (the user said "this wasn't me"): only the notice, the
  // password form with its rules (and sign out) until the password is changed.
  async function enterPasswordChangeOnly(username) {
    document.body.dataset.state = 'loading';
    state.profile = null;
    state.enrollOnly = false;
    state.passwordOnly = true;
    $('account').dataset.mode = 'password';
    const pw = await api('GET', API.passwordPolicy);
    if (pw.status === 401) return;
    state.pwPolicy = pw.ok && pw.data ? { rules: pw.data.rules || null, checks: pw.data.checks || [] } : null;
    $('whoami').textContent = username || '';
    $('password-username').value = username || '';
    $('password-required').hidden = false;
    applyLang();
    $('signin').hidden = true;
    $('loading').hidden = true;
    $('account').hidden = false;
    document.body.dataset.state = 'password-change';
  }

  // The session is held to a password change: who it is (the profile is refused), then that view.
  async function enterPasswordChangeFromInfo(error) {
    const info = await api('GET', API.userLoginInfo);
    if (info.ok) await enterPasswordChangeOnly(info.data && info.data.username);
    else if (info.status !== 401) error(problemText(info));
  }

  // The password was changed: the session may do everything, or enroll a second factor first.
  async function leavePasswordChange() {
    const p = await api('GET', API.profile);
    if (p.ok && p.data) {
      await enterSignedIn(p.data);
      setStatus('password-status', t('passwordChanged'), 'ok');
      $('whoami').focus();
    } else if (isProblem(p, PROBLEM.enrollment)) {
      await enterEnrollmentOnly($('whoami').textContent);
      if (document.body.dataset.state === 'enrolling') $('factors-required').focus();
    } else if (p.status !== 401) {
      setStatus('password-status', problemText(p), 'bad');
    }
  }

  // ---------------------------------------------------------------- forgotten password

  // The reset forms empty, hidden, and the card's title back to "Sign in".
  function closeReset() {
    for (const id of ['reset-request-form', 'reset-confirm-form']) {
      $(id).reset();
      clearErrors($(id));
      $(id).hidden = true;
    }
    setStatus('reset-request-status', '');
    setStatus('reset-confirm-status', '');
    setI18n('signin-title', 'signinTitle');
  }

  // Shows one form of the sign-in card (`formId`) under the title `titleKey`, alone, whatever the
  // page showed (the reset link may be opened on a signed-in page).
  function showSigninCard(formId, titleKey, bodyState) {
    const current = document.body.dataset.state;
    if (current !== 'reset-request' && current !== 'reset-confirm') state.resetFrom = current;
    state.signinStep = null;
    state.signinNotice = null;
    renderSigninNotice();
    $('signin-error').textContent = '';
    for (const id of ['signin-form', 'signin-factor-form', 'reset-request-form', 'reset-confirm-form']) {
      $(id).hidden = id !== formId;
    }
    setI18n('signin-title', titleKey);
    $('account').hidden = true;
    $('loading').hidden = true;
    $('signin').hidden = false;
    document.body.dataset.state = bodyState;
  }

  // "Forgot your password?": the username or e-mail address to send a link to; `message` (a
  // refused link) in the form's status line.
  function showResetRequest(message) {
    showSigninCard('reset-request-form', 'resetRequestTitle', 'reset-request');
    clearErrors($('reset-request-form'));
    setStatus('reset-request-status', message || '', message ? 'bad' : undefined);
    const login = $('reset-login');
    if (!login.value) login.value = $('signin-username').value.trim();
    login.focus();
  }

  // The link from the e-mail was opened: only the new password (twice).
  function showResetConfirm() {
    showSigninCard('reset-confirm-form', 'resetConfirmTitle', 'reset-confirm');
    $('reset-confirm-form').reset();
    clearErrors($('reset-confirm-form'));
    setStatus('reset-confirm-status', '');
    $('reset-password').focus();
  }

  // A reset link in the address (`#reset=<token>`): the token is kept in memory and the fragment
  // removed at once, so that it stays in neither the address bar nor the history. Answers the
  // token, '' for a malformed one, or null without a link.
  const takeResetToken = () => takeLinkToken('#reset=');

  // The token of a link from an e-mail (`<prefix><token>` in the fragment), the fragment removed.
  function takeLinkToken(prefix) {
    const hash = window.location.hash;
    if (!hash.startsWith(prefix)) return null;
    history.replaceState(history.state, '', window.location.pathname + window.location.search);
    const token = hash.slice(prefix.length);
    return /^[A-Za-z0-9_-]{16,512}$/.test(token) ? token : '';
  }

  // The page was opened from a reset link, or the link was pasted into a page already open (a
  // change of the fragment alone does not reload the page).
  function openResetLink(token) {
    state.resetToken = token || null;
    if (token) showResetConfirm();
    else showResetRequest(t('resetInvalid'));
  }

  // "Back to sign in": the sign-in form, or the page the reset views replaced (a session may be
  // alive: the server says).
  async function leaveReset() {
    state.resetToken = null;
    const from = state.resetFrom;
    state.resetFrom = null;
    if (from === 'signed-out' || from === 'second-factor') {
      showSignedOut(false);
      $($('signin-username').value ? 'signin-password' : 'signin-username').focus();
      return;
    }
    closeReset();
    $('signin').hidden = true;
    $('loading').hidden = false;
    document.body.dataset.state = 'loading';
    await boot();
    if (document.body.dataset.state === 'signed-out') $('signin-username').focus();
  }

  // Asks for a link: the same answer whether or not an account matches.
  async function requestReset(event) {
    event.preventDefault();
    const form = $('reset-request-form');
    clearErrors(form);
    setStatus('reset-request-status', '');
    const login = $('reset-login').value.trim();
    if (!login) {
      fieldError('reset-login', t('required'));
      $('reset-login').focus();
      return;
    }
    await busy($('reset-request-submit'), async () => {
      const r = await api('POST', API.passwordReset, { login }, { keep401: true });
      if (r.ok) {
        setStatus('reset-request-status', t('resetSent', { minutes: RESET_LINK_MINUTES }), 'ok');
      } else if (isProblem(r, PROBLEM.resetUnavailable)) {
        // The server's words say where the passwords live: in English, beside the page's sentence.
        const detail = r.data && typeof r.data.detail === 'string' ? r.data.detail : '';
        setStatus('reset-request-status', state.lang === 'en' && detail ? detail : t('resetUnavailable'), 'bad');
        if (state.lang !== 'en' && detail) $('reset-request-status').append(' ', h('span', { lang: 'en', textContent: detail }));
      } else if (r.status === 400 && r.data && Array.isArray(r.data.errors) && r.data.errors.length) {
        showProblem(r, form, { login: 'reset-login' }, 'reset-request-status', null);
      } else {
        setStatus('reset-request-status', (state.lang === 'en' && r.data && r.data.detail) || problemText(r), 'bad');
      }
    });
  }

  function checkResetRepeat() {
    const repeat = $('reset-repeat');
    $('reset-repeat-error').textContent = '';
    repeat.removeAttribute('aria-invalid');
    if (repeat.value && repeat.value !== $('reset-password').value) fieldError('reset-repeat', t('mismatch'));
  }

  // The new password with the link's token. Refused by the policy, the link stays usable: the
  // errors go by the field, as on the change-password form.
  async function confirmReset(event) {
    event.preventDefault();
    const form = $('reset-confirm-form');
    clearErrors(form);
    setStatus('reset-confirm-status', '');
    if (!state.resetToken) {
      showResetRequest(t('resetInvalid'));
      return;
    }
    const newPassword = $('reset-password').value;
    if (!newPassword) fieldError('reset-password', t('required'));
    if (newPassword !== $('reset-repeat').value) fieldError('reset-repeat', t('mismatch'));
    if (form.querySelector('[aria-invalid="true"]')) return focusFirstInvalid(form);
    await busy($('reset-confirm-submit'), async () => {
      const r = await api('POST', API.passwordResetConfirm, { token: state.resetToken, newPassword }, { keep401: true });
      if (r.ok) {
        state.resetToken = null;
        state.resetFrom = null;
        showSignedOut(false); // every session ended, this browser's too
        state.signinNotice = { key: 'resetDone', params: {} };
        renderSigninNotice();
        $('signin-username').focus();
      } else if (isProblem(r, PROBLEM.resetLinkInvalid)) {
        state.resetToken = null;
        form.reset();
        showResetRequest(t('resetInvalid'));
      } else if (r.status === 400 && r.data && Array.isArray(r.data.errors) && r.data.errors.length) {
        showProblem(r, form, { newPassword: 'reset-password' }, 'reset-confirm-status', null);
      } else {
        setStatus('reset-confirm-status', (state.lang === 'en' && r.data && r.data.detail) || problemText(r), 'bad');
      }
    });
  }

  // ---------------------------------------------------------------- verified e-mail changes

  // "Cancel this change": the pending address and its link are dropped; the address stays.
  async function cancelEmailChange() {
    setStatus('profile-status', '');
    await busy($('email-change-cancel'), async () => {
      const r = await api('DELETE', API.emailChange);
      if (r.status === 401) return;
      if (!r.ok) {
        setStatus('profile-status', problemText(r), 'bad');
        return;
      }
      state.emailChange = { verifyChanges: !state.emailChange || state.emailChange.verifyChanges, pending: null };
      renderEmailChange();
      setStatus('profile-status', t('emailChangeCancelled', { current: (state.profile && state.profile.emailAddress) || '' }), 'ok');
      $('profile-emailAddress').focus();
    });
  }

  // A link confirming a new address in the address (`#verify_email=<token>`): like a reset link's,
  // the token is taken into memory and the fragment removed at once. Answers the token, '' for a
  // malformed one, or null without such a link.
  const takeEmailToken = () => takeLinkToken('#verify_email=');

  // Sends the link's token (no session needed): the card above the page says what came of it.
  // Answers whether the address changed.
  async function confirmEmailLink(token) {
    state.emailVerify = { kind: 'busy', key: 'emailVerifying', params: {} };
    renderEmailVerify();
    let r = null;
    if (token) r = await api('POST', API.emailChangeConfirm, { token }, { keep401: true });
    if (r && r.ok) {
      const address = r.data && typeof r.data.emailAddress === 'string' ? r.data.emailAddress : '';
      state.emailVerify = { kind: 'ok', key: address ? 'emailVerified' : 'emailVerifiedNoAddress', params: { address } };
    } else if (!r || isEmailLinkInvalid(r)) {
      const d = (r && r.data) || {};
      const detail = typeof d.detail === 'string' && d.detail ? d.detail : (typeof d.title === 'string' ? d.title : '');
      state.emailVerify = { kind: 'bad', key: 'emailVerifyInvalid', params: {}, detail };
    } else {
      state.emailVerify = { kind: 'bad', response: r };
    }
    renderEmailVerify();
    return !!(r && r.ok);
  }

  // The link pasted into a page already open: confirmed, and a signed-in page shows the new address.
  async function openEmailLink(token) {
    const changed = await confirmEmailLink(token);
    if (changed && document.body.dataset.state === 'signed-in') {
      const p = await api('GET', API.profile);
      if (p.ok && p.data) {
        state.profile = p.data;
        renderProfile(p.data);
        await Promise.all([loadEmailChange(), loadTimeline()]);
      }
    }
    if (state.emailVerify) $('email-verify-status').focus();
  }

  // "Close": the card goes; the focus to the start of what the page shows.
  function closeEmailVerify() {
    state.emailVerify = null;
    renderEmailVerify();
    const next = ['whoami', 'signin-username', 'reset-login', 'reset-password'].map($)
      .find((el) => !el.closest('[hidden]'));
    if (next) next.focus();
  }

  // ---------------------------------------------------------------- actions

  async function signIn(event) {
    event.preventDefault();
    const username = $('signin-username').value.trim();
    const password = $('signin-password').value;
    const error = $('signin-error');
    error.textContent = '';
    if (!username || !password) {
      error.textContent = t('signinMissing');
      return;
    }
    await busy($('signin-submit'), async () => {
      const r = await api('POST', API.login, { username, password }, { keep401: true });
      if (isProblem(r, PROBLEM.secondFactor) && r.data.challenge) {
        showSigninStep(r.data);
        return;
      }
      if (!r.ok) {
        error.textContent = r.status === 401 ? t('badCredentials')
          : r.status === 403 ? t('accountDisabled') : problemText(r);
        $('signin-password').focus();
        return;
      }
      await finishSignIn(r, error);
    });
  }

  // After a successful login answer: the whole page, or only enrollment when the session must
  // enroll a second factor first.
  async function finishSignIn(login, error) {
    $('signin-password').value = '';
    // A demanded password change comes before anything else, enrollment included.
    if (login.data && login.data.password_change_required) {
      await enterPasswordChangeOnly(login.data.username);
      if (document.body.dataset.state === 'password-change') $('password-required').focus();
      return;
    }
    if (login.data && login.data.second_factor_enrollment_required) {
      await enterEnrollmentOnly(login.data.username);
      if (document.body.dataset.state === 'enrolling') $('factors-required').focus();
      return;
    }
    const p = await api('GET', API.profile);
    if (p.ok) {
      await enterSignedIn(p.data);
      $('whoami').focus();
    } else if (isProblem(p, PROBLEM.enrollment)) {
      await enterEnrollmentOnly(login.data && login.data.username);
      if (document.body.dataset.state === 'enrolling') $('factors-required').focus();
    } else if (isProblem(p, PROBLEM.passwordChange)) {
      await enterPasswordChangeFromInfo((message) => { error.textContent = message; });
      if (document.body.dataset.state === 'password-change') $('password-required').focus();
    } else if (p.status !== 401) {
      error.textContent = problemText(p);
    }
  }

  // The password was right and the account has a second factor: ask for a code from the app when
  // it has one, else for a passkey (the recovery codes are the way out of either).
  function showSigninStep(data) {
    const methods = Array.isArray(data.methods) ? data.methods : ['totp'];
    const passkeyOptions = data.passkey_options || null;
    const canPasskey = methods.includes('passkey') && !!passkeyOptions && passkeysSupported();
    const recovery = methods.includes('recovery_code');
    let primary = 'totp';
    if (!methods.includes('totp') && methods.includes('passkey') && (canPasskey || !recovery)) primary = 'passkey';
    else if (!methods.includes('totp') && recovery) primary = 'recovery';
    state.signinStep = {
      challenge: data.challenge,
      methods,
      expiresAt: Number(data.challenge_expires_at) || null,
      passkeyOptions,
      canPasskey,
      primary,
      mode: primary,
    };
    $('signin-password').value = '';
    $('signin-code').value = '';
    $('signin-code').removeAttribute('aria-invalid');
    // Only a passkey would do, and this browser has none to offer.
    $('signin-factor-error').textContent = primary === 'passkey' && !canPasskey ? t('passkeyUnsupported') : '';
    $('signin-error').textContent = '';
    $('signin-form').hidden = true;
    $('signin-factor-form').hidden = false;
    renderSigninStep();
    document.body.dataset.state = 'second-factor';
    focusSigninStep();
  }

  function focusSigninStep() {
    const step = state.signinStep;
    $(step && step.mode === 'passkey' && step.canPasskey ? 'second-step-passkey' : 'signin-code').focus();
  }

  // Back to the username and password (Start over, or the challenge expired).
  function leaveSigninStep(message) {
    state.signinStep = null;
    $('signin-code').value = '';
    $('signin-factor-error').textContent = '';
    $('signin-factor-form').hidden = true;
    $('signin-form').hidden = false;
    $('signin-error').textContent = message || '';
    document.body.dataset.state = 'signed-out';
    $($('signin-username').value ? 'signin-password' : 'signin-username').focus();
  }

  function toggleSigninStep() {
    const step = state.signinStep;
    if (!step) return;
    step.mode = step.mode === 'recovery' ? step.primary : 'recovery';
    $('signin-code').value = '';
    $('signin-code').removeAttribute('aria-invalid');
    $('signin-factor-error').textContent = '';
    renderSigninStep();
    focusSigninStep();
  }

  async function submitSigninStep(event) {
    event.preventDefault();
    const step = state.signinStep;
    if (!step) return;
    if (step.mode === 'passkey') {
      await signinStepPasskey();
      return;
    }
    const error = $('signin-factor-error');
    const input = $('signin-code');
    error.textContent = '';
    input.removeAttribute('aria-invalid');
    const code = input.value.trim();
    if (!code) {
      error.textContent = t('factorMissing');
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    const body = step.mode === 'recovery' ? { challenge: step.challenge, recovery_code: code }
      : { challenge: step.challenge, code };
    await busy($('signin-factor-submit'), async () => {
      const r = await api('POST', API.login, body, { keep401: true });
      if (!r.ok) {
        const message = stepRefusal(r, step, 'factorWrong');
        if (message === null) return;
        error.textContent = message;
        input.setAttribute('aria-invalid', 'true');
        input.select();
        input.focus();
        return;
      }
      state.signinStep = null;
      input.value = '';
      await finishSignIn(r, error);
    });
  }

  // The message for a refused second step (`wrong`: the key for a refused code or passkey), or null
  // when the challenge died and the form went back to the password. The server decides; the
  // browser's clock only picks the message.
  function stepRefusal(r, step, wrong) {
    if (r.status === 401 && step.expiresAt && Date.now() > step.expiresAt) {
      leaveSigninStep(t('challengeExpired'));
      return null;
    }
    return r.status === 401 ? t(wrong) : r.status === 403 ? t('accountDisabled') : problemText(r);
  }

  // The second step with a passkey: the browser asks the authenticator to sign the challenge's
  // options. A refused passkey leaves the challenge alive: try again, or another method.
  async function signinStepPasskey() {
    const step = state.signinStep;
    if (!step || !step.canPasskey) return;
    const error = $('signin-factor-error');
    error.textContent = '';
    $('signin-code').removeAttribute('aria-invalid');
    await busy($('second-step-passkey'), async () => {
      const assertion = await passkeyAssertion(step.passkeyOptions, (message) => { error.textContent = message; });
      if (!assertion || state.signinStep !== step) return;
      const r = await api('POST', API.login, { challenge: step.challenge, passkey: assertion }, { keep401: true });
      if (!r.ok) {
        const message = stepRefusal(r, step, 'passkeyStepRefused');
        if (message !== null) error.textContent = message;
        return;
      }
      state.signinStep = null;
      await finishSignIn(r, error);
    });
  }

  // Sign-in with a passkey alone: no username, the browser offers this site's passkeys. The
  // answer is a password login's, and so is what follows.
  async function signInWithPasskey() {
    const error = $('signin-error');
    error.textContent = '';
    await busy($('passkey-sign-in'), async () => {
      const begun = await api('POST', API.passkeySignInOptions, undefined, { keep401: true });
      if (!begun.ok || !begun.data) {
        error.textContent = problemText(begun);
        return;
      }
      const assertion = await passkeyAssertion(begun.data.options, (message) => { error.textContent = message; });
      if (!assertion) return;
      const r = await api('POST', API.passkeySignIn, { ceremony: begun.data.ceremony, credential: assertion },
        { keep401: true });
      if (!r.ok) {
        error.textContent = r.status === 401 ? t('passkeyRefused')
          : r.status === 403 ? t('accountDisabled') : problemText(r);
        return;
      }
      await finishSignIn(r, error);
    });
  }

  async function signOut() {
    await busy($('signout'), async () => {
      const r = await api('POST', API.logout, {});
      // Only a session the server has ended counts as signed out (a 401 has shown the form already);
      // after anything else the session may still be alive, so say so and stay.
      if (r.ok) showSignedOut(false);
      else if (r.status !== 401) { setStatus('signout-status', problemText(r), 'bad'); return; }
      $('signin-username').focus();
    });
  }

  async function saveProfile(event) {
    event.preventDefault();
    const form = $('profile-form');
    clearErrors(form);
    const editable = (state.profile && state.profile.editable) || [];
    const body = {};
    for (const f of PROFILE_FIELDS) if (editable.includes(f)) body[f] = $(`profile-${f}`).value.trim();
    const before = (state.profile && state.profile.emailAddress) || '';
    // A new address may wait for its link (email.verify_changes): then the answer still has the old
    // one, and the pending one is asked for. Without verify_changes, nothing more than before.
    const askedAddress = 'emailAddress' in body && body.emailAddress !== before
      && !(state.emailChange && !state.emailChange.verifyChanges);
    setStatus('profile-status', t('saving'));
    await busy($('profile-submit'), async () => {
      const r = await api('PUT', API.profile, body);
      if (r.ok && r.data) {
        state.profile = r.data;
        renderProfile(r.data);
        applyLang(); // the language may have changed
        if (askedAddress) await loadEmailChange();
        const waiting = askedAddress && !!(state.emailChange && state.emailChange.pending);
        setStatus('profile-status', t(waiting ? 'emailChangeSaved' : 'saved'), 'ok');
      } else if (r.status !== 401) {
        const map = Object.fromEntries(PROFILE_FIELDS.map((f) => [f, `profile-${f}`]));
        showProblem(r, form, map, 'profile-status', null);
      }
    });
  }

  function checkConfirm() {
    const confirm = $('password-confirm');
    $('password-confirm-error').textContent = '';
    confirm.removeAttribute('aria-invalid');
    if (confirm.value && confirm.value !== $('password-new').value) fieldError('password-confirm', t('mismatch'));
  }

  async function changePassword(event) {
    event.preventDefault();
    const form = $('password-form');
    clearErrors(form);
    setStatus('password-status', '');
    const oldPassword = $('password-old').value;
    const newPassword = $('password-new').value;
    if (!oldPassword) fieldError('password-old', t('required'));
    if (!newPassword) fieldError('password-new', t('required'));
    if (newPassword !== $('password-confirm').value) fieldError('password-confirm', t('mismatch'));
    if (form.querySelector('[aria-invalid="true"]')) return focusFirstInvalid(form);
    await busy($('password-submit'), async () => {
      const r = await api('POST', API.changePassword, new URLSearchParams({ oldPassword, newPassword }));
      if (r.ok) {
        form.reset();
        passwordChecker.cancel();
        resetRules('password');
        if (state.passwordOnly) {
          await leavePasswordChange(); // the hold is lifted for this session
          return;
        }
        setStatus('password-status', t('passwordChanged'), 'ok');
        // A change of the e-mail address waiting for its link ends with the password change.
        const pendingAddress = !!(state.emailChange && state.emailChange.pending);
        await Promise.all([loadSessions(), loadCredentials(), loadTimeline(), pendingAddress ? loadEmailChange() : null]);
      } else if (isWrongSecret(r)) {
        fieldError('password-old', t('wrongPassword'));
        setStatus('password-status', t('notChanged'), 'bad');
        $('password-old').focus();
      } else if (r.status !== 401) {
        const rules = state.pwPolicy && state.pwPolicy.rules;
        showProblem(r, form, { oldPassword: 'password-old', newPassword: 'password-new' }, 'password-status', rules);
      }
    });
  }

  async function changePin(event) {
    event.preventDefault();
    const form = $('pin-form');
    const policy = state.pinPolicy;
    if (!policy || !policy.resource) return;
    clearErrors(form);
    setStatus('pin-status', '');
    const pinCode = $('pin-new').value.trim();
    const oldPinCode = $('pin-old').value.trim();
    if (policy.hasPin && !oldPinCode) fieldError('pin-old', t('required'));
    if (!pinCode) fieldError('pin-new', t('required'));
    if (form.querySelector('[aria-invalid="true"]')) return focusFirstInvalid(form);
    const body = policy.hasPin ? { pinCode, oldPinCode } : { pinCode };
    await busy($('pin-submit'), async () => {
      const r = await api('PUT', policy.resource, body);
      if (r.ok) {
        form.reset();
        pinChecker.cancel();
        resetRules('pin');
        await Promise.all([loadPinPolicy(), loadCredentials()]); // a PIN is set: the current PIN becomes required
        setStatus('pin-status', t('pinChanged'), 'ok');
      } else if (isWrongSecret(r) && !$('pin-old').hidden) {
        fieldError('pin-old', t('wrongPin'));
        setStatus('pin-status', t('notChanged'), 'bad');
        if (!$('pin-old').hidden) $('pin-old').focus();
      } else if (r.status !== 401) {
        showProblem(r, form, { pinCode: 'pin-new', oldPinCode: 'pin-old' }, 'pin-status', policy.rules);
      }
    });
  }

  async function endSession(id, button) {
    await busy(button, async () => {
      const r = await api('DELETE', `${API.sessions}${encodeURIComponent(id)}/`);
      if (r.status === 401) return;
      if (r.ok) setStatus('sessions-status', t('sessionEnded'), 'ok');
      else setStatus('sessions-status', r.status === 404 ? t('sessionGone') : problemText(r), 'bad');
      await Promise.all([loadSessions(), loadCredentials()]);
      $('sessions-end-others').focus();
    });
  }

  async function endOtherSessions() {
    await busy($('sessions-end-others'), async () => {
      const r = await api('DELETE', API.sessions);
      if (r.status === 401) return;
      if (r.ok) setStatus('sessions-status', t('endedOthers', { n: Number((r.data && r.data.ended) || 0) }), 'ok');
      else setStatus('sessions-status', problemText(r), 'bad');
      await Promise.all([loadSessions(), loadCredentials()]);
    });
  }

  // ---------------------------------------------------------------- API tokens and credentials

  // problem+json `errors[].field` -> the token form's field.
  const TOKEN_FIELDS = {
    name: 'token-name', scope: 'token-scope', expires_in_days: 'token-days', expiresInDays: 'token-days',
  };

  // Create a personal token (a recent proof needed: the page asks for one, then tries again); the
  // answer's token is shown once.
  async function createToken(event) {
    event.preventDefault();
    const form = $('token-form');
    clearErrors(form);
    setStatus('tokens-status', '');
    const name = $('token-name').value.trim();
    const scope = $('token-scope').value;
    const expiresInDays = Number.parseInt($('token-days').value, 10);
    if (!name) {
      fieldError('token-name', t('required'));
      $('token-name').focus();
      return;
    }
    hideTokenSecret(); // one secret on the page at a time
    await guarded($('token-create'), 'tokens-status', async () => {
      clearErrors(form);
      const r = await api('POST', API.tokens, { name, scope, expiresInDays });
      if (r.ok && r.data && r.data.token) {
        form.reset();
        showTokenSecret(r.data.token);
        setStatus('tokens-status', t('tokenCreated', { name: r.data.name || name }), 'ok');
        await Promise.all([loadTokens(), loadCredentials()]);
        return null;
      }
      if (r.status === 400) {
        showProblem(r, form, TOKEN_FIELDS, 'tokens-status', null);
        return null;
      }
      if (r.status === 403) {
        // Say why in English (the server's words), else in the page's language.
        const detail = state.lang === 'en' && r.data && r.data.detail;
        setStatus('tokens-status', isProblem(r, PROBLEM.forbidden) ? detail || t('tokensForbidden') : problemText(r), 'bad');
        return null;
      }
      return r;
    });
  }

  async function revokeToken(token, button) {
    await guarded(button, 'tokens-status', async () => {
      const r = await api('DELETE', `${API.tokens}${encodeURIComponent(token.id)}/`);
      if (!r.ok && r.status !== 404) return r;
      await Promise.all([loadTokens(), loadCredentials()]);
      setStatus('tokens-status', r.ok ? t('tokenRevoked', { name: token.name }) : t('tokenGone'), 'ok');
      $('tokens-title').focus();
      return null;
    });
  }

  async function copyToken() {
    const input = $('token-secret');
    input.focus();
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
      setStatus('token-copy-status', t('tokenCopied'), 'ok');
    } catch (_) {
      setStatus('token-copy-status', t('tokenCopyFailed'), 'bad');
    }
  }

  function tokenDone() {
    hideTokenSecret();
    $('tokens-title').focus();
  }

  // Revoke one credential of the list the way the server said; then every list again.
  async function revokeCredential(credential, what, button) {
    const action = revokeAction(credential);
    if (!action) return;
    await guarded(button, 'credentials-status', async () => {
      const r = await api(action.method, action.path);
      if (!r.ok && r.status !== 404) return r;
      if (r.ok && credential.kind === 'totp') hideCodes(); // they went with the app
      await loadEverything();
      setStatus('credentials-status', r.ok ? t('credRevoked', { what }) : t('credGone'), 'ok');
      $('credentials-title').focus();
      return null;
    });
  }

  // "Sign out everywhere else and revoke every token" asks first, on the page: Yes or Cancel.
  function askRevokeEverything() {
    setStatus('credentials-status', '');
    $('revoke-everything-box').hidden = false;
    $('revoke-everything').setAttribute('aria-expanded', 'true');
    $('revoke-everything-confirm').focus();
  }

  function closeRevokeEverything() {
    $('revoke-everything-box').hidden = true;
    $('revoke-everything').setAttribute('aria-expanded', 'false');
  }

  async function revokeEverything() {
    await guarded($('revoke-everything-confirm'), 'credentials-status', async () => {
      const r = await api('DELETE', API.credentials);
      if (isProblem(r, PROBLEM.reauth)) return r;
      closeRevokeEverything();
      if (r.status === 401) return null;
      $('revoke-everything').focus();
      if (!r.ok) return r;
      hideTokenSecret();
      const d = r.data || {};
      await loadEverything();
      setStatus('credentials-status', t('revokedEverything', { s: Number(d.sessions || 0), m: Number(d.tokens || 0) }), 'ok');
      return null;
    });
  }

  // ---------------------------------------------------------------- timeline and export

  function askReport(event) {
    if (state.reporting === event.id) {
      closeReport(true);
      return;
    }
    setStatus('timeline-status', '');
    state.reporting = event.id;
    renderTimeline();
    $('report-confirm').focus();
  }

  // Closes the confirmation; `focusBack`: to the button that opened it.
  function closeReport(focusBack) {
    const id = state.reporting;
    state.reporting = null;
    renderTimeline();
    if (!focusBack || id == null) return;
    const li = [...$('timeline-list').children].find((el) => el.dataset.eventId === String(id));
    const button = li && li.querySelector('button.event-report');
    if (button) button.focus();
  }

  // "This wasn't me", confirmed: the server ends every session (this one too) and every token and
  // holds the next sign-in to a password change. The page is then the sign-in form, saying so.
  async function reportEvent(event, button) {
    await busy(button, async () => {
      const r = await api('POST', `${API.events}${encodeURIComponent(event.id)}/report/`);
      if (r.status === 401) return;
      if (!r.ok) {
        closeReport(true);
        setStatus('timeline-status', problemText(r), 'bad');
        return;
      }
      const d = r.data || {};
      showSignedOut(false);
      state.signinNotice = {
        key: 'reportDone',
        params: { s: Number(d.sessionsEnded || 0), m: Number(d.tokensRevoked || 0), pw: !!d.passwordChangeRequired },
      };
      renderSigninNotice();
      $('signin-username').focus();
    });
  }

  async function loadOlderEvents() {
    const before = state.events.length;
    await busy($('timeline-more'), async () => {
      const r = await loadTimeline(true);
      // The focus on the first event of the new page (the button may be gone: the last page).
      const first = r.ok ? $('timeline-list').children[before] : null;
      if (first) first.focus();
    });
  }

  // The export as a file: fetched (so that a refusal, such as too many exports, is said here),
  // then handed to the browser to save under the name the server gives it.
  async function downloadExport() {
    setStatus('export-status', '');
    await busy($('export-download'), async () => {
      const r = await api('GET', API.exportData, undefined, { text: true });
      if (r.status === 401) return;
      if (!r.ok || !r.text) {
        setStatus('export-status', problemText(r), 'bad');
        return;
      }
      const url = URL.createObjectURL(new Blob([r.text], { type: 'application/json' }));
      h('a', { href: url, download: EXPORT_FILE }).click();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      setStatus('export-status', t('exportDone', { file: EXPORT_FILE }), 'ok');
      await loadTimeline(); // the export is in it
    });
  }

  // ---------------------------------------------------------------- two-step verification

  // Runs `action` (which answers its api() result, or null when it has said everything itself)
  // with `button` busy. A change that needs a fresh proof (`reauthentication-required`) asks for
  // it, then runs again.
  async function guarded(button, statusId, action) {
    setStatus(statusId, '');
    await busy(button, async () => {
      const r = await action();
      if (!r) return;
      if (isProblem(r, PROBLEM.reauth)) askReauth(() => guarded(button, statusId, action), button);
      else if (!r.ok && r.status !== 401) setStatus(statusId, problemText(r), 'bad');
    });
  }

  // A user with a second factor proves it with one: the app's code first, else a passkey; the
  // recovery codes are the way out of either. Without one, the password.
  function askReauth(retry, back) {
    const f = state.factors;
    const hasTotp = !!f && f.totp === 'enabled';
    const hasPasskey = !!f && Number(f.passkeys || 0) > 0;
    let primary = 'password';
    if (hasTotp) primary = 'totp';
    else if (hasPasskey) primary = passkeysSupported() ? 'passkey' : 'recovery';
    state.reauth = { retry, back, hasFactor: hasTotp || hasPasskey, hasTotp, hasPasskey, primary, mode: primary };
    $('reauth-form').reset();
    clearErrors($('reauth-form'));
    setStatus('reauth-status', '');
    $('reauth-section').hidden = false;
    renderReauth();
    focusReauth();
  }

  function focusReauth() {
    const r = state.reauth;
    $(r && r.mode === 'passkey' ? 'reauth-passkey' : 'reauth-secret').focus();
  }

  function closeReauth() {
    const back = state.reauth && state.reauth.back;
    state.reauth = null;
    $('reauth-form').reset();
    clearErrors($('reauth-form'));
    setStatus('reauth-status', '');
    $('reauth-section').hidden = true;
    return back;
  }

  function toggleReauth() {
    const r = state.reauth;
    if (!r) return;
    r.mode = r.mode === 'recovery' ? r.primary : 'recovery';
    $('reauth-secret').value = '';
    clearErrors($('reauth-form'));
    setStatus('reauth-status', '');
    renderReauth();
    focusReauth();
  }

  // The proof with a passkey: options over the user's passkeys, the browser's assertion, then the
  // change waiting for it.
  async function reauthWithPasskey() {
    const pending = state.reauth;
    if (!pending) return;
    clearErrors($('reauth-form'));
    setStatus('reauth-status', '');
    const report = (message) => setStatus('reauth-status', message, 'bad');
    await busy($('reauth-passkey'), async () => {
      const begun = await api('POST', API.reauthOptions);
      if (!begun.ok || !begun.data) {
        if (begun.status !== 401) report(problemText(begun));
        return;
      }
      const assertion = await passkeyAssertion(begun.data.options, report);
      if (!assertion || state.reauth !== pending) return;
      const r = await api('POST', API.reauthenticate, { ceremony: begun.data.ceremony, passkey: assertion });
      if (r.ok) {
        closeReauth();
        await pending.retry();
        await Promise.all([loadPasskeys(), loadCredentials()]); // its "last used"
        return;
      }
      if (r.status === 401) return;
      report(isWrongSecret(r) ? t('wrongPasskey') : problemText(r));
      $('reauth-passkey').focus();
    });
  }

  async function submitReauth(event) {
    event.preventDefault();
    const pending = state.reauth;
    if (!pending) return;
    if (pending.mode === 'passkey') {
      await reauthWithPasskey();
      return;
    }
    clearErrors($('reauth-form'));
    setStatus('reauth-status', '');
    const raw = $('reauth-secret').value;
    const value = pending.mode === 'password' ? raw : raw.trim();
    if (!value) {
      fieldError('reauth-secret', t('required'));
      $('reauth-secret').focus();
      return;
    }
    const body = pending.mode === 'password' ? { password: value }
      : pending.mode === 'recovery' ? { recovery_code: value } : { code: value };
    await busy($('reauth-submit'), async () => {
      const r = await api('POST', API.reauthenticate, body);
      if (r.ok) {
        closeReauth();
        await pending.retry();
        if (pending.mode === 'recovery') await Promise.all([loadFactors(), loadCredentials()]); // one code fewer
        return;
      }
      if (r.status === 401) return;
      if (isWrongSecret(r)) {
        fieldError('reauth-secret', t({ password: 'wrongPassword', recovery: 'wrongRecoveryCode', totp: 'wrongCode' }[pending.mode]));
      } else {
        setStatus('reauth-status', problemText(r), 'bad');
      }
      $('reauth-secret').focus();
    });
  }

  async function setupTotp() {
    await guarded($('totp-setup'), 'factors-status', async () => {
      const r = await api('POST', API.totp);
      if (r.ok && r.data) {
        await loadFactors(); // now pending
        showEnrollment(r.data);
      }
      return r;
    });
  }

  function cancelEnrollment() {
    hideEnrollment();
    renderFactors();
    $('totp-setup').focus();
  }

  async function confirmTotp(event) {
    event.preventDefault();
    const form = $('totp-confirm-form');
    clearErrors(form);
    setStatus('factors-status', '');
    const code = $('totp-code').value.replace(/\s+/g, '');
    if (!/^\d{6}$/.test(code)) {
      fieldError('totp-code', t('codeFormat'));
      $('totp-code').focus();
      return;
    }
    await busy($('totp-confirm'), async () => {
      const r = await api('PUT', API.totp, { code });
      if (r.ok && r.data) {
        hideEnrollment();
        await Promise.all([loadFactors(), loadCredentials()]);
        setStatus('factors-status', t('totpOn'), 'ok');
        showCodes(r.data.recovery_codes || [], state.enrollOnly ? null : 'totp-remove');
      } else if (isWrongSecret(r)) {
        fieldError('totp-code', t('wrongCode'));
        $('totp-code').select();
        $('totp-code').focus();
      } else if (r.status !== 401) {
        setStatus('factors-status', problemText(r), 'bad');
      }
    });
  }

  async function removeTotp() {
    await guarded($('totp-remove'), 'factors-status', async () => {
      const r = await api('DELETE', API.totp);
      if (r.ok) {
        hideCodes();
        await Promise.all([loadFactors(), loadCredentials()]);
        setStatus('factors-status', t('totpOff'), 'ok');
        $('totp-setup').focus();
      }
      return r;
    });
  }

  async function generateCodes() {
    await guarded($('recovery-generate'), 'recovery-status', async () => {
      const r = await api('POST', API.recoveryCodes);
      if (r.ok && r.data) {
        await Promise.all([loadFactors(), loadCredentials()]);
        setStatus('recovery-status', t('codesNew'), 'ok');
        showCodes(r.data.recovery_codes || [], 'recovery-generate');
      }
      return r;
    });
  }

  // The codes are saved: hide them. A session that had to enroll may now do everything.
  async function codesDone() {
    hideCodes();
    if (state.enrollOnly) {
      await leaveEnrollment('factors-status');
      return;
    }
    const back = state.codesBack && $(state.codesBack);
    (back && !back.closest('[hidden]') ? back : $('factors-title')).focus();
  }

  // A session that had to enroll has a factor now: the whole page.
  async function leaveEnrollment(statusId) {
    const p = await api('GET', API.profile);
    if (p.ok && p.data) {
      await enterSignedIn(p.data);
      $('whoami').focus();
    } else if (p.status !== 401) {
      setStatus(statusId, problemText(p), 'bad');
    }
  }

  // ---------------------------------------------------------------- passkeys

  // Whether this browser has WebAuthn (a secure context: https, or http on localhost).
  const passkeysSupported = () => typeof window.PublicKeyCredential === 'function'
    && !!navigator.credentials && typeof navigator.credentials.create === 'function';

  // The server writes binary members in base64url (no padding); WebAuthn wants ArrayBuffers.
  function fromBase64url(text) {
    const b64 = String(text).replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    let binary = '';
    for (const b of new Uint8Array(buffer)) binary += String.fromCharCode(b);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // A copy of JSON without its null members: WebAuthn's dictionaries refuse null for an absent
  // optional member.
  function withoutNulls(value) {
    if (Array.isArray(value)) return value.map(withoutNulls);
    if (!value || typeof value !== 'object') return value;
    const copy = {};
    for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) copy[k] = withoutNulls(v);
    return copy;
  }

  const withBinaryId = (descriptor) => ({ ...descriptor, id: fromBase64url(descriptor.id) });

  // `{publicKey}` for navigator.credentials.create() from the server's options.
  function creationOptions(options) {
    const publicKey = withoutNulls((options && options.publicKey) || {});
    publicKey.challenge = fromBase64url(publicKey.challenge);
    publicKey.user = { ...publicKey.user, id: fromBase64url(publicKey.user.id) };
    if (Array.isArray(publicKey.excludeCredentials)) publicKey.excludeCredentials = publicKey.excludeCredentials.map(withBinaryId);
    return { publicKey };
  }

  // `{publicKey}` for navigator.credentials.get() from the server's options.
  function requestOptions(options) {
    const publicKey = withoutNulls((options && options.publicKey) || {});
    publicKey.challenge = fromBase64url(publicKey.challenge);
    if (Array.isArray(publicKey.allowCredentials)) publicKey.allowCredentials = publicKey.allowCredentials.map(withBinaryId);
    return { publicKey };
  }

  // A new credential as the server reads it (binary members in base64url).
  function registrationJson(credential) {
    const r = credential.response;
    const response = {
      clientDataJSON: toBase64url(r.clientDataJSON),
      attestationObject: toBase64url(r.attestationObject),
    };
    if (typeof r.getTransports === 'function') response.transports = r.getTransports();
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response,
      extensions: credential.getClientExtensionResults(),
    };
  }

  // An assertion as the server reads it (binary members in base64url).
  function assertionJson(credential) {
    const r = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toBase64url(r.clientDataJSON),
        authenticatorData: toBase64url(r.authenticatorData),
        signature: toBase64url(r.signature),
        userHandle: r.userHandle ? toBase64url(r.userHandle) : null,
      },
      extensions: credential.getClientExtensionResults(),
    };
  }

  // What went wrong in the browser's part of a ceremony, for people.
  function ceremonyError(error) {
    const name = (error && error.name) || 'Error';
    if (name === 'NotAllowedError' || name === 'AbortError') return t('passkeyCancelled');
    if (name === 'InvalidStateError') return t('passkeyExists');
    return t('passkeyFailed', { name });
  }

  // The browser's assertion for the server's `options` as JSON, or null (said through `report`).
  async function passkeyAssertion(options, report) {
    if (!passkeysSupported()) {
      report(t('passkeyUnsupported'));
      return null;
    }
    let credential;
    try {
      credential = await navigator.credentials.get(requestOptions(options));
    } catch (e) {
      report(ceremonyError(e));
      return null;
    }
    if (!credential) {
      report(t('passkeyCancelled'));
      return null;
    }
    return assertionJson(credential);
  }

  // Add a passkey: options (a recent proof needed), the browser creates the credential, the server
  // checks and stores it under its name.
  async function addPasskey(event) {
    event.preventDefault();
    const form = $('passkey-form');
    clearErrors(form);
    setStatus('passkeys-status', '');
    const name = $('passkey-name').value.trim();
    if (!name) {
      fieldError('passkey-name', t('required'));
      $('passkey-name').focus();
      return;
    }
    await guarded($('passkey-add'), 'passkeys-status', async () => {
      const begun = await api('POST', API.passkeyOptions);
      if (!begun.ok || !begun.data) return begun;
      let credential;
      try {
        credential = await navigator.credentials.create(creationOptions(begun.data.options));
      } catch (e) {
        setStatus('passkeys-status', ceremonyError(e), 'bad');
        return null;
      }
      if (!credential) {
        setStatus('passkeys-status', t('passkeyCancelled'), 'bad');
        return null;
      }
      const r = await api('POST', API.passkeys, { ceremony: begun.data.ceremony, name, credential: registrationJson(credential) });
      if (r.ok) {
        form.reset();
        await Promise.all([loadPasskeys(), loadFactors(), loadCredentials()]);
        setStatus('passkeys-status', t('passkeyAdded', { name }), 'ok');
        if (state.enrollOnly) await leaveEnrollment('passkeys-status');
        return r;
      }
      if (isProblem(r, PROBLEM.passkeyRefused)) {
        setStatus('passkeys-status', t('passkeyRejected'), 'bad');
        return null;
      }
      if (r.status === 400) {
        showProblem(r, form, { name: 'passkey-name' }, 'passkeys-status', null);
        return null;
      }
      return r;
    });
  }

  async function removePasskey(passkey, button) {
    await guarded(button, 'passkeys-status', async () => {
      const r = await api('DELETE', `${API.passkeys}${encodeURIComponent(passkey.id)}/`);
      if (!r.ok && r.status !== 404) return r;
      await Promise.all([loadPasskeys(), loadFactors(), loadCredentials()]);
      setStatus('passkeys-status', r.ok ? t('passkeyRemoved', { name: passkey.name }) : t('passkeyGone'), 'ok');
      $('passkeys-title').focus();
      return null;
    });
  }

  // Live policy feedback: ~300 ms after typing stops, ask the server about the candidate.
  // Answers to older candidates are dropped.
  function liveChecker(kind, url, field, statusId) {
    let timer = null;
    let seq = 0;
    const input = $(`${kind}-new`);
    const cancel = () => { clearTimeout(timer); seq++; };
    input.addEventListener('input', () => {
      cancel();
      const value = kind === 'pin' ? input.value.trim() : input.value;
      const errorEl = $(`${kind}-new-error`);
      if (!value) { resetRules(kind); return; }
      timer = setTimeout(async () => {
        const mine = ++seq;
        const r = await api('POST', url, { [field]: value });
        if (mine !== seq || r.status === 401) return;
        if (r.ok) {
          applyVerdict(kind, r.data);
          if (errorEl.dataset.live) { errorEl.textContent = ''; delete errorEl.dataset.live; input.removeAttribute('aria-invalid'); }
          if ($(statusId).dataset.live) { setStatus(statusId, ''); delete $(statusId).dataset.live; }
          return;
        }
        // No verdict for this candidate: the marks of an earlier one must not stay on screen.
        resetRules(kind);
        const errors = (r.status === 400 && r.data && Array.isArray(r.data.errors)) ? r.data.errors : [];
        if (errors.length) {
          const rules = kind === 'password' ? state.pwPolicy && state.pwPolicy.rules : state.pinPolicy && state.pinPolicy.rules;
          errorEl.textContent = errors.map((e) => ruleText(e.code, rules, e.message)).join(' ');
          errorEl.dataset.live = '1';
          input.setAttribute('aria-invalid', 'true');
        } else {
          setStatus(statusId, problemText(r), 'bad');
          $(statusId).dataset.live = '1';
        }
      }, 300);
    });
    return { cancel };
  }

  // ---------------------------------------------------------------- start

  function fillTimeZones() {
    if (typeof Intl.supportedValuesOf !== 'function') return;
    let zones = [];
    try { zones = Intl.supportedValuesOf('timeZone'); } catch (_) { return; }
    const list = $('profile-timeZone-list');
    list.replaceChildren(...zones.map((z) => h('option', { value: z })));
  }

  let passwordChecker;
  let pinChecker;

  async function start() {
    // First: the links' tokens out of the address bar before anything else.
    const resetToken = takeResetToken();
    const emailToken = resetToken === null ? takeEmailToken() : null;
    fillTimeZones();
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', signOut);
    $('profile-form').addEventListener('submit', saveProfile);
    $('password-form').addEventListener('submit', changePassword);
    $('pin-form').addEventListener('submit', changePin);
    $('sessions-end-others').addEventListener('click', endOtherSessions);
    $('signin-factor-form').addEventListener('submit', submitSigninStep);
    $('signin-use-recovery').addEventListener('click', toggleSigninStep);
    $('signin-factor-back').addEventListener('click', () => leaveSigninStep(''));
    $('totp-setup').addEventListener('click', setupTotp);
    $('totp-confirm-form').addEventListener('submit', confirmTotp);
    $('totp-cancel').addEventListener('click', cancelEnrollment);
    $('totp-remove').addEventListener('click', removeTotp);
    $('recovery-generate').addEventListener('click', generateCodes);
    $('codes-done').addEventListener('click', codesDone);
    $('reauth-form').addEventListener('submit', submitReauth);
    $('reauth-passkey').addEventListener('click', reauthWithPasskey);
    $('second-step-passkey').addEventListener('click', signinStepPasskey);
    $('passkey-sign-in').addEventListener('click', signInWithPasskey);
    $('passkey-form').addEventListener('submit', addPasskey);
    $('token-form').addEventListener('submit', createToken);
    $('token-copy').addEventListener('click', copyToken);
    $('token-done').addEventListener('click', tokenDone);
    $('revoke-everything').addEventListener('click', askRevokeEverything);
    $('timeline-more').addEventListener('click', loadOlderEvents);
    $('export-download').addEventListener('click', downloadExport);
    $('forgot-password').addEventListener('click', () => showResetRequest(''));
    $('reset-request-form').addEventListener('submit', requestReset);
    $('reset-request-back').addEventListener('click', leaveReset);
    $('reset-confirm-form').addEventListener('submit', confirmReset);
    $('reset-confirm-back').addEventListener('click', leaveReset);
    $('reset-password').addEventListener('input', checkResetRepeat);
    $('reset-repeat').addEventListener('input', checkResetRepeat);
    window.addEventListener('hashchange', () => {
      const token = takeResetToken();
      if (token !== null) {
        openResetLink(token);
        return;
      }
      const emailToken = takeEmailToken();
      if (emailToken !== null) openEmailLink(emailToken);
    });
    $('email-change-cancel').addEventListener('click', cancelEmailChange);
    $('email-verify-close').addEventListener('click', closeEmailVerify);
    $('revoke-everything-confirm').addEventListener('click', revokeEverything);
    $('revoke-everything-cancel').addEventListener('click', () => {
      closeRevokeEverything();
      $('revoke-everything').focus();
    });
    $('passkey-sign-in-line').hidden = !passkeysSupported();
    $('reauth-use-recovery').addEventListener('click', toggleReauth);
    $('reauth-cancel').addEventListener('click', () => {
      const back = closeReauth();
      if (back && !back.closest('[hidden]')) back.focus();
    });
    $('password-new').addEventListener('input', checkConfirm);
    $('password-confirm').addEventListener('input', checkConfirm);
    passwordChecker = liveChecker('password', API.passwordPolicy, 'newPassword', 'password-status');
    pinChecker = liveChecker('pin', API.pinPolicy, 'pinCode', 'pin-status');
    $('lang-select').addEventListener('change', (e) => {
      try {
        if (e.target.value) localStorage.setItem(LANG_KEY, e.target.value);
        else localStorage.removeItem(LANG_KEY);
      } catch (_) { memoryLang = e.target.value; } // storage unavailable: remember for this page only
      applyLang();
    });
    $('whoami').tabIndex = -1; // focus target after signing in
    for (const id of ['factors-title', 'factors-required', 'totp-scan', 'passkeys-title', 'tokens-title',
      'credentials-title', 'password-required']) $(id).tabIndex = -1; // focus targets
    applyLang();
    if (resetToken !== null) {
      openResetLink(resetToken);
      return;
    }
    if (emailToken !== null) {
      // Confirmed first, so that a signed-in page loads with the new address.
      await confirmEmailLink(emailToken);
      await boot();
      if (state.emailVerify) $('email-verify-status').focus();
      return;
    }
    await boot();
  }

  // What the session (if any) may see: the whole page, enrollment only, the password change only,
  // or the sign-in form.
  async function boot() {
    const r = await api('GET', API.profile);
    if (r.ok && r.data) {
      await enterSignedIn(r.data);
    } else if (isProblem(r, PROBLEM.enrollment)) {
      const info = await api('GET', API.userLoginInfo);
      if (info.ok) await enterEnrollmentOnly(info.data && info.data.username);
      else if (info.status !== 401) { showSignedOut(false); $('signin-error').textContent = problemText(info); }
    } else if (isProblem(r, PROBLEM.passwordChange)) {
      await enterPasswordChangeFromInfo((message) => { showSignedOut(false); $('signin-error').textContent = message; });
    } else if (r.status !== 401) {
      showSignedOut(false);
      $('signin-error').textContent = problemText(r);
    }
  }

  start();
})();
