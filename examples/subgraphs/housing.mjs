// The housing and urban-rural development bureau's subgraph (住房和城乡建设局), built
// WITHOUT Apollo's libraries: plain graphql-js, with the federation subgraph protocol
// written out by hand (`_service { sdl }`, `_entities(representations:)`, `scalar _Any`,
// `union _Entity`), to show the hub speaks the protocol rather than one library. It
// extends the hub's Building with its safety inspections (房屋安全检查). Data are made
// up, deterministic per building id.
//
//   node housing.mjs     PORT [4802], SUBGRAPH_TOKEN [housing-demo-token], DELAY_MS [0]
import { fileURLToPath } from 'node:url';

import { GraphQLError, buildSchema } from 'graphql';

import { chineseName, distinctDates, seeded, serveSubgraph } from './common.mjs';

/** The subgraph's SDL, as `_service { sdl }` serves it. */
export const sdl = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

"""A calendar date, YYYY-MM-DD."""
scalar Date

"""A building of the hub, as the housing bureau knows it."""
type Building @key(fields: "id") {
  id: ID!

  """Safety inspections of the building (房屋安全检查)"""
  inspections: [Inspection!]
}

"""One safety inspection of a building."""
type Inspection {
  date: Date!
  inspector: String!
  result: InspectionResult!
  note: String
}

"""The outcome of a safety inspection."""
enum InspectionResult {
  PASSED
  REMEDIATION_REQUIRED
  UNSAFE
}
`;

// What the subgraph protocol adds to the SDL to make it executable: the directives the
// SDL uses, and the entry points a gateway calls (as federation v2.3 defines them).
const protocol = `
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
directive @key(fields: federation__FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
enum link__Purpose { SECURITY EXECUTION }
scalar link__Import
scalar federation__FieldSet

scalar _Any
type _Service { sdl: String }
union _Entity = Building
type Query {
  _entities(representations: [_Any!]!): [_Entity]!
  _service: _Service!
}
`;

/** Hub building ids: B and six digits. */
export const BUILDING_ID = /^B\d{6}$/;

const RESULTS = ['PASSED', 'REMEDIATION_REQUIRED', 'UNSAFE'];
const NOTES = {
  PASSED: ['主体结构完好，未见明显损伤', '消防通道畅通，设施完好', '外墙及阳台无安全隐患'],
  REMEDIATION_REQUIRED: ['外墙瓷砖空鼓，限期修缮', '阳台栏杆锈蚀，需更换', '屋面渗漏，需防水维修', '楼梯间墙体裂缝，需加固并观察'],
  UNSAFE: ['承重墙体出现贯通裂缝，鉴定为D级危房', '地基不均匀沉降，建议立即撤离', '楼板严重变形，禁止使用'],
};

/**
 * What the housing bureau holds on building `id`, or null when `id` is no building id.
 * 0-3 inspections, newest first; most pass, some need remediation, a few find the
 * building unsafe.
 */
export function buildingOf(id) {
  if (typeof id !== 'string' || !BUILDING_ID.test(id)) return null;
  const rng = seeded(`housing:${id}`);
  const count = rng.weighted([20, 35, 30, 15]);
  const inspections = distinctDates(rng, count, '2015-01-01', '2026-09-30')
    .reverse()
    .map((date) => {
      const result = RESULTS[rng.weighted([70, 22, 8])];
      const note = result === 'PASSED' && rng.chance(0.5) ? null : rng.pick(NOTES[result]);
      return { date, inspector: chineseName(rng), result, note };
    });
  return { __typename: 'Building', id, inspections };
}

/** `_entities`: one answer per representation, in order; null for an unknown building. */
function entities({ representations }) {
  return representations.map((representation, i) => {
    if (representation === null || typeof representation !== 'object' || Array.isArray(representation)) {
      throw new GraphQLError(`representation ${i} is not an object with a __typename`);
    }
    if (representation.__typename !== 'Building') {
      // As @apollo/subgraph answers: the whole field fails.
      throw new GraphQLError(
        `The _entities resolver tried to load an entity for type ${JSON.stringify(representation.__typename)}, but the housing subgraph has no entity of that name`,
      );
    }
    return buildingOf(representation.id);
  });
}

export const schema = buildSchema(sdl + protocol);

/** The root value: graphql-js's default resolvers call these. */
const root = {
  _entities: entities,
  _service: () => ({ sdl }),
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  serveSubgraph({ name: 'housing', schema, rootValue: root, defaultPort: 4802, defaultToken: 'housing-demo-token' });
}
