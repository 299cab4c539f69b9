// DPoP (RFC 9449) for restricted_sessions header sessions, in the browser.
//
//   import { DPoPClient } from "/static/restricted_sessions/dpop.js";
//   const client = await DPoPClient.create();
//   const response = await client.fetch("/api/login/", { method: "POST", body });
//
// The signing key is a WebCrypto ECDSA P-256 key made with extractable: false and kept in
// IndexedDB, so it survives reloads while no script, injected or not, can read it out: a script
// can use the session only while it runs in the page. The session key is kept in sessionStorage
// (per tab, survives reloads, gone with the tab, like a session cookie); without the private key
// it is useless, so its exposure there costs nothing that memory-only storage would save, and
// memory-only storage would end the session on every reload. Pass `storage: null` for memory only.

const DB_NAME = "restricted_sessions";
const DB_STORE = "keys";
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" };
const SIGNATURE = { name: "ECDSA", hash: "SHA-256" };
const encoder = new TextEncoder();

function base64url(bytes) {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const base64urlJSON = (value) => base64url(encoder.encode(JSON.stringify(value)));

function request(idbRequest) {
  return new Promise((resolve, reject) => {
    idbRequest.onsuccess = () => resolve(idbRequest.result);
    idbRequest.onerror = () => reject(idbRequest.error);
  });
}

/** A new non-extractable P-256 key pair (its public half is always exportable). */
export function generateKeyPair() {
  return crypto.subtle.generateKey(ALGORITHM, false, ["sign", "verify"]);
}

/**
 * The key pair stored under `name` in IndexedDB, made and stored on first use. Without IndexedDB
 * (a private window that refuses it, a non-browser runtime) the pair lives as long as the page.
 */
export async function loadKeyPair({ name = "dpop", indexedDB = globalThis.indexedDB } = {}) {
  if (!indexedDB) return generateKeyPair();
  const open = indexedDB.open(DB_NAME, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(DB_STORE);
  const db = await request(open);
  try {
    const stored = await request(db.transaction(DB_STORE).objectStore(DB_STORE).get(name));
    if (stored) return stored;
    const pair = await generateKeyPair();
    // Another tab may have stored a key meanwhile: the first one stored wins.
    const store = db.transaction(DB_STORE, "readwrite").objectStore(DB_STORE);
    const winner = await request(store.get(name));
    if (winner) return winner;
    await request(store.add(pair, name));
    return pair;
  } finally {
    db.close();
  }
}

export class DPoPClient {
  /** A client with the stored key pair (see loadKeyPair) unless `keyPair` is given. */
  static async create(options = {}) {
    const keyPair = options.keyPair ?? (await loadKeyPair(options));
    const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", keyPair.publicKey);
    return new DPoPClient({ ...options, keyPair, jwk: { kty, crv, x, y } });
  }

  constructor({
    keyPair,
    jwk,
    sessionHeader = "X-SessionID",
    storage = globalThis.sessionStorage ?? null,
    storageKey = "restricted_sessions.session_key",
    fetch = globalThis.fetch.bind(globalThis),
  }) {
    this.keyPair = keyPair;
    this.jwk = jwk;
    this.sessionHeader = sessionHeader;
    this.storage = storage;
    this.storageKey = storageKey;
    this.nonce = null;
    this._fetch = fetch;
    this._sessionKey = storage ? storage.getItem(storageKey) : null;
  }

  get sessionKey() {
    return this._sessionKey;
  }

  set sessionKey(value) {
    this._sessionKey = value || null;
    if (!this.storage) return;
    if (this._sessionKey) this.storage.setItem(this.storageKey, this._sessionKey);
    else this.storage.removeItem(this.storageKey);
  }

  /** A DPoP proof (compact JWS, ES256) for `method` on `url`, for the session key held now. */
  async proof(method, url) {
    const target = new URL(url, globalThis.location?.href);
    const claims = {
      jti: base64url(crypto.getRandomValues(new Uint8Array(16))),
      htm: method,
      htu: target.origin + target.pathname,
      iat: Math.floor(Date.now() / 1000),
    };
    if (this._sessionKey) {
      claims.ath = base64url(await crypto.subtle.digest("SHA-256", encoder.encode(this._sessionKey)));
    }
    if (this.nonce) claims.nonce = this.nonce;
    const input = `${base64urlJSON({ typ: "dpop+jwt", alg: "ES256", jwk: this.jwk })}.${base64urlJSON(claims)}`;
    // WebCrypto's ECDSA signature is r || s, the JWS form (RFC 7518 section 3.4).
    const signature = await crypto.subtle.sign(SIGNATURE, this.keyPair.privateKey, encoder.encode(input));
    return `${input}.${base64url(signature)}`;
  }

  /**
   * fetch() with the session header and a fresh proof; keeps the session key the server sends,
   * drops it on an empty one, and retries once when the server asks for a nonce.
   */
  async fetch(input, init) {
    const original = new Request(input, init);
    let response = await this._send(original.clone());
    const sentNonce = this.nonce;
    this._learn(response);
    if (response.status === 401 && this.nonce !== sentNonce && asksForNonce(response)) {
      response = await this._send(original);
      this._learn(response);
    }
    return response;
  }

  async _send(req) {
    req.headers.set(this.sessionHeader, this._sessionKey ?? "");
    req.headers.set("DPoP", await this.proof(req.method, req.url));
    return this._fetch(req);
  }

  _learn(response) {
    const nonce = response.headers.get("DPoP-Nonce");
    if (nonce) this.nonce = nonce;
    const key = response.headers.get(this.sessionHeader);
    if (key !== null) this.sessionKey = key;
  }
}

function asksForNonce(response) {
  return (response.headers.get("WWW-Authenticate") ?? "").includes('error="use_dpop_nonce"');
}
