import { readFileSync } from "node:fs";
import { parse, print } from "graphql";
import { mintToken } from "./token.mjs";
const ops = Object.fromEntries(parse(readFileSync("queries.graphql","utf8")).definitions.map(d => [d.name.value, print(d)]));
const token = await mintToken();
const vars = { Point: { id: "R00000003" }, Nested: { id: "R00000003" }, Members: { id: "H0000002" }, DenyHeavy: { id: "R00000003" } };
for (const [name, q] of Object.entries(ops)) {
  const one = () => fetch("http://127.0.0.1:4000/", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify({ query: q, variables: vars[name] || {} }) }).then(r => r.json());
  for (let i = 0; i < 5; i++) await one();
  const t = [];
  for (let i = 0; i < 30; i++) { const t0 = performance.now(); await one(); t.push(performance.now() - t0); }
  t.sort((a, b) => a - b);
  console.log(name.padEnd(13), "p50", t[15].toFixed(2), "ms  max", t[29].toFixed(2), "ms");
}
