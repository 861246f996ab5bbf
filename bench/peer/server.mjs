// Peer server for mandate's benchmark: @neo4j/graphql v7 behind Apollo Server
// (standalone, Node http) over the same Neo4j city, restricted to what the agency
// D-GRID_MANAGEMENT-T1 may see. See README.md and typeDefs.mjs.
//
// Env:
//   PEER_PORT          listen port on 127.0.0.1 (default 4000)
//   NEO4J_URI          default bolt://127.0.0.1:7687
//   NEO4J_USER         default neo4j
//   NEO4J_PASSWORD     default mandate-dev-password
//   PEER_JWT_SECRET    HS256 secret for the Bearer JWT (default: a fixed dev string)
//   PEER_DEBUG_CYPHER  1 = log every Cypher statement the library runs (to stderr, via
//                      the `debug` namespace @neo4j/graphql:execution); off by default

import createDebug from "debug";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { Neo4jGraphQL } from "@neo4j/graphql";
import neo4j from "neo4j-driver";
import { typeDefs } from "./typeDefs.mjs";
import { DEFAULT_JWT_SECRET } from "./token.mjs";

const port = Number(process.env.PEER_PORT || 4000);
const host = "127.0.0.1";
const uri = process.env.NEO4J_URI || "bolt://127.0.0.1:7687";
const user = process.env.NEO4J_USER || "neo4j";
const password = process.env.NEO4J_PASSWORD || "mandate-dev-password";
const secret = process.env.PEER_JWT_SECRET || DEFAULT_JWT_SECRET;
if (Buffer.byteLength(secret) < 32) {
  throw new Error("PEER_JWT_SECRET must be at least 32 bytes");
}

if (process.env.PEER_DEBUG_CYPHER === "1") {
  // The library logs through `debug`; the execution namespace prints, per statement,
  // a line "@neo4j/graphql:execution executing cypher", then the Cypher text, then its
  // parameters. Count the "executing cypher" lines to count statements per request.
  // (The first request also runs one `CALL dbms.components()` to learn the version.)
  createDebug.enable("@neo4j/graphql:execution");
}

const driver = neo4j.driver(uri, neo4j.auth.basic(user, password));

const neoSchema = new Neo4jGraphQL({
  typeDefs,
  driver,
  features: {
    // The library verifies the Bearer token itself (jose, HS256 only); with
    // `extend schema @authentication` an absent or invalid token is refused with an
    // Unauthenticated error before any Cypher runs. The claim `grids` drives the
    // @authorization filters.
    authorization: { key: secret, verifyOptions: { algorithms: ["HS256"] } },
  },
});

const schema = await neoSchema.getSchema();

const server = new ApolloServer({ schema, includeStacktraceInErrorResponses: false });

const { url } = await startStandaloneServer(server, {
  listen: { host, port },
  context: async ({ req }) => ({ token: req.headers.authorization }),
});

console.log(`peer (@neo4j/graphql + Apollo Server) listening at ${url} -> ${uri}`);

const shutdown = async () => {
  await server.stop();
  await driver.close();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
