// The official Socket.IO client (npm `socket.io-client`) against example-axum's `/socket.io/`.
//
//   node socketio.mjs <app url> <dev issuer url>
//
// The app runs with its embedded issuer, `AUTH_DEV_MINT=1` (tokens are minted with
// `POST {issuer}/dev/mint`) and `AUTH_LEEWAY_SECS=1` (so that a 3-second token ends a
// connection within seconds). Each scenario prints `ok: ...`; the first failure prints
// `FAILED: ...` and exits with status 1. Every wait is bounded. `cargo xtask interop` runs it.

import { io } from "socket.io-client";

const [appUrl, issuer] = process.argv.slice(2);
if (!appUrl || !issuer) {
  console.error("usage: node socketio.mjs <app url> <dev issuer url>");
  process.exit(2);
}

const WAIT_MS = 10_000;
const open = new Set();

async function mint(sub, roles, expiresIn) {
  const response = await fetch(`${issuer}/dev/mint`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sub, roles, expires_in: expiresIn }),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  if (!response.ok) throw new Error(`POST ${issuer}/dev/mint answered ${response.status}`);
  return (await response.json()).access_token;
}

function client(namespace, options = {}) {
  const socket = io(`${appUrl}${namespace}`, {
    reconnection: false,
    timeout: WAIT_MS,
    forceNew: true,
    ...options,
  });
  open.add(socket);
  return socket;
}

function within(ms, what, executor) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    executor(
      (value) => { clearTimeout(timer); resolve(value); },
      (error) => { clearTimeout(timer); reject(error); },
    );
  });
}

/// Resolves when the socket connects; rejects with the refusal when it does not.
function connected(socket) {
  return within(WAIT_MS, "connect", (resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => reject(new Error(`refused: ${err.message}`)));
  });
}

/// Resolves with the parsed `{code, message}` of the refusal; rejects when the socket connects.
function refused(socket) {
  return within(WAIT_MS, "connect_error", (resolve, reject) => {
    socket.once("connect", () => reject(new Error("connected, but a refusal was expected")));
    socket.once("connect_error", (err) => {
      try {
        resolve(JSON.parse(err.message));
      } catch {
        reject(new Error(`connect_error message is not JSON: ${err.message}`));
      }
    });
  });
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function assertEq(got, want, what) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  assert(g === w, `${what}: got ${g}, want ${w}`);
}

async function whoami(socket) {
  return socket.timeout(WAIT_MS).emitWithAck("whoami");
}

function close(socket) {
  socket.disconnect();
  open.delete(socket);
}

const scenarios = [
  ["a handshake auth token connects over long-polling, then upgrades; whoami answers from the token", async () => {
    const token = await mint("alice", ["admin", "user"], 300);
    const socket = await connected(client("/", { auth: { token } }));
    const me = await whoami(socket);
    assertEq(me.sub, "alice", "sub");
    assertEq(me.roles, ["admin", "user"], "roles");
    close(socket);
  }],
  ["a handshake auth token connects over the WebSocket transport alone", async () => {
    const token = await mint("bob", ["user"], 300);
    const socket = await connected(client("/", { auth: { token }, transports: ["websocket"] }));
    assertEq((await whoami(socket)).sub, "bob", "sub");
    close(socket);
  }],
  ["an Authorization: Bearer header connects", async () => {
    const token = await mint("bob", ["user"], 300);
    const socket = await connected(client("/", { extraHeaders: { authorization: `Bearer ${token}` } }));
    assertEq((await whoami(socket)).sub, "bob", "sub");
    close(socket);
  }],
  ["the payload token wins over a header token", async () => {
    const payload = await mint("alice", ["admin"], 300);
    const header = await mint("bob", ["user"], 300);
    const socket = await connected(client("/", {
      auth: { token: payload },
      extraHeaders: { authorization: `Bearer ${header}` },
    }));
    assertEq((await whoami(socket)).sub, "alice", "sub");
    close(socket);
  }],
  ["no credential: CONNECT_ERROR token_missing", async () => {
    const err = await refused(client("/"));
    assertEq(err.code, "token_missing", "code");
    assert(typeof err.message === "string" && err.message.length > 0, "a message");
  }],
  ["a forged token: CONNECT_ERROR token_invalid", async () => {
    const token = await mint("alice", ["admin"], 300);
    const [h, p] = token.split(".");
    const err = await refused(client("/", { auth: { token: `${h}.${p}.AAAA` } }));
    assertEq(err.code, "token_invalid", "code");
  }],
  ["an expired token: CONNECT_ERROR token_expired", async () => {
    const token = await mint("alice", ["admin"], -120);
    const err = await refused(client("/", { auth: { token } }));
    assertEq(err.code, "token_expired", "code");
  }],
  ["a non-string token: CONNECT_ERROR invalid_request", async () => {
    const err = await refused(client("/", { auth: { token: 42 } }));
    assertEq(err.code, "invalid_request", "code");
  }],
  ["/admin refuses a user without the admin role (permission_denied) and admits an admin", async () => {
    const bob = await mint("bob", ["user"], 300);
    const err = await refused(client("/admin", { auth: { token: bob } }));
    assertEq(err.code, "permission_denied", "code");
    const alice = await mint("alice", ["admin"], 300);
    const socket = await connected(client("/admin", { auth: { token: alice } }));
    assertEq((await whoami(socket)).sub, "alice", "sub");
    close(socket);
  }],
  ["an idle socket is told token_expired and disconnected when its token expires", async () => {
    const token = await mint("alice", ["user"], 3);
    const started = Date.now();
    const socket = await connected(client("/", { auth: { token }, transports: ["websocket"] }));
    let told = null;
    socket.on("auth_error", (body) => { told = body; });
    const reason = await within(15_000, "the disconnection at expiry", (resolve) => {
      socket.once("disconnect", resolve);
    });
    const after = (Date.now() - started) / 1000;
    assertEq(reason, "io server disconnect", "disconnect reason");
    assertEq(told && told.code, "token_expired", "auth_error code");
    // exp is 3 s after minting, the leeway 1 s: the socket must end near 4 s, not at once.
    assert(after >= 2 && after < 9, `disconnected after ${after} s`);
    open.delete(socket);
  }],
  ["an in-band re-authentication moves the deadline; another subject is refused and disconnected", async () => {
    const token = await mint("alice", ["user"], 3);
    const socket = await connected(client("/", { auth: { token } }));
    const fresh = await mint("alice", ["user"], 300);
    const reply = await socket.timeout(WAIT_MS).emitWithAck("auth", { token: fresh });
    assertEq(reply.ok, true, "re-authentication ok");
    assert(reply.expires_at > Date.now() / 1000 + 200, `expires_at ${reply.expires_at}`);
    await new Promise((r) => setTimeout(r, 5_000));
    assert(socket.connected, "still connected after the first token's expiry");
    assertEq((await whoami(socket)).sub, "alice", "sub after re-authentication");
    const other = await mint("bob", ["user"], 300);
    const gone = within(WAIT_MS, "the disconnection", (resolve) => socket.once("disconnect", resolve));
    const refusal = await socket.timeout(WAIT_MS).emitWithAck("auth", { token: other });
    assertEq(refusal.ok, false, "another subject refused");
    assertEq(refusal.code, "permission_denied", "code");
    assertEq(await gone, "io server disconnect", "disconnect reason");
    open.delete(socket);
  }],
];

const deadline = setTimeout(() => {
  console.error("FAILED: the Socket.IO scenarios did not finish within 120 s");
  process.exit(1);
}, 120_000);

let failed = false;
for (const [name, run] of scenarios) {
  try {
    await run();
    console.log(`ok: socket.io-client: ${name}`);
  } catch (error) {
    console.error(`FAILED: socket.io-client: ${name}: ${error.message}`);
    failed = true;
    break;
  }
}
for (const socket of open) socket.disconnect();
clearTimeout(deadline);
process.exit(failed ? 1 : 0);
