// Mint an HS256 JWT for the peer. As a module: mintToken({ grids }). As a command:
//   node token.mjs [GRID_ID ...]        (default G00001; prints the token)
// Env: PEER_JWT_SECRET (same default as server.mjs), PEER_TOKEN_TTL (seconds, default 86400).
import { SignJWT } from "jose";
import { pathToFileURL } from "node:url";

export const DEFAULT_JWT_SECRET = "mandate-bench-peer-dev-secret-0123456789abcdef";

export async function mintToken({
  grids = ["G00001"],
  sub = "D-GRID_MANAGEMENT-T1",
  secret = process.env.PEER_JWT_SECRET || DEFAULT_JWT_SECRET,
  ttlSeconds = Number(process.env.PEER_TOKEN_TTL || 86400),
} = {}) {
  return new SignJWT({ grids })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const grids = process.argv.slice(2);
  console.log(await mintToken(grids.length ? { grids } : {}));
}
