// Node's `jose` (panva) on the fixture the Rust side writes: the same token, key, issuer and
// audience. Prints `<alg> <verifications per second>` after a warm-up, timing sequential
// `jwtVerify` calls for the given number of seconds (what one request handler would do).
import { readFileSync } from 'node:fs';
import { importJWK, jwtVerify } from 'jose';

const f = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const key = await importJWK(f.jwk, f.alg);
const options = { issuer: f.issuer, audience: f.audience, algorithms: [f.alg] };

const verifyMany = async (n) => {
  for (let i = 0; i < n; i++) {
    await jwtVerify(f.token, key, options);
  }
};

await verifyMany(200); // warm-up (JIT)
let n = 0;
const start = process.hrtime.bigint();
const budget = BigInt(Math.round(f.seconds * 1e9));
while (process.hrtime.bigint() - start < budget) {
  await verifyMany(50);
  n += 50;
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(`${f.alg} ${(n / seconds).toFixed(0)}`);
