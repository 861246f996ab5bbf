// The health commission's subgraph (卫生健康委员会), built with Apollo's own
// @apollo/subgraph: it extends the hub's Resident with the vaccinations its
// immunisation planning system recorded and the resident's contracted family doctor.
// Apollo's buildSubgraphSchema supplies `_service { sdl }` and `_entities`; common.mjs
// serves it. Data are made up, deterministic per resident id.
//
//   node health.mjs      PORT [4801], SUBGRAPH_TOKEN [health-demo-token], DELAY_MS [0]
import { fileURLToPath } from 'node:url';

import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';

import { DateScalar, chineseName, distinctDates, seeded, serveSubgraph } from './common.mjs';

export const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

  "A calendar date, YYYY-MM-DD."
  scalar Date

  "A resident of the hub, as the health commission knows them."
  type Resident @key(fields: "id") {
    id: ID!
    "Vaccinations recorded by the immunisation planning system"
    vaccinations: [Vaccination!]
    "The contracted family doctor (家庭医生签约), or null"
    familyDoctor: String
  }

  "One dose of a vaccine given to a resident."
  type Vaccination {
    vaccine: String!
    "Which dose of this vaccine (1 for the first)"
    dose: Int!
    date: Date!
    clinic: String!
  }
`);

/** Hub resident ids: R and eight digits. */
export const RESIDENT_ID = /^R\d{8}$/;

const VACCINES = ['新冠病毒疫苗', '流感疫苗', '乙肝疫苗', '肺炎球菌疫苗', '带状疱疹疫苗', '甲肝疫苗', '狂犬病疫苗'];
const CLINICS = [
  '科苑社区卫生服务中心',
  '东湖街道社区卫生服务中心',
  '新城社区卫生服务中心',
  '桃源街道社区卫生服务中心',
  '南山社区卫生服务中心',
  '西乡社区卫生服务中心',
  '青山湖社区卫生服务中心',
  '滨江街道社区卫生服务中心',
];

/**
 * What the health commission holds on resident `id`, or null when `id` is no resident id.
 * 0-4 vaccinations, oldest first (dose counts up per vaccine), most at the resident's own
 * community health centre; a family doctor for about 60% of residents.
 */
export function residentOf(id) {
  if (typeof id !== 'string' || !RESIDENT_ID.test(id)) return null;
  const rng = seeded(`health:${id}`);
  const count = rng.weighted([15, 25, 25, 20, 15]);
  const homeClinic = rng.pick(CLINICS);
  const doses = {};
  const vaccinations = distinctDates(rng, count, '2015-01-01', '2026-09-30').map((date) => {
    const vaccine = rng.pick(VACCINES);
    doses[vaccine] = (doses[vaccine] ?? 0) + 1;
    return { vaccine, dose: doses[vaccine], date, clinic: rng.chance(0.8) ? homeClinic : rng.pick(CLINICS) };
  });
  const familyDoctor = rng.chance(0.6) ? chineseName(rng) : null;
  return { id, vaccinations, familyDoctor };
}

const resolvers = {
  Date: DateScalar,
  Resident: {
    __resolveReference: (reference) => residentOf(reference.id),
  },
};

export const schema = buildSubgraphSchema([{ typeDefs, resolvers }]);

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  serveSubgraph({ name: 'health', schema, defaultPort: 4801, defaultToken: 'health-demo-token' });
}
